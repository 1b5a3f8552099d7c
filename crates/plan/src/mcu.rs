//! A small catalogue of common microcontrollers and their on-chip SRAM
//! (`data/mcus.csv`, with the datasheet each number comes from), to say which
//! chips can hold a model's arena with and without DMO.

use crate::error::PlanError;
use serde::{Deserialize, Serialize};

/// The catalogue, compiled in so the tool needs no data files at run time.
const CATALOGUE_CSV: &str = include_str!("../../../data/mcus.csv");

/// One microcontroller.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Mcu {
    pub name: String,
    pub core: String,
    /// On-chip SRAM in KiB (all banks; some chips split it).
    pub sram_kib: u64,
    /// The datasheet the number comes from.
    pub source: String,
}

impl Mcu {
    pub fn sram_bytes(&self) -> u64 {
        self.sram_kib * 1024
    }

    /// Whether an arena head of `bytes` fits in the SRAM. This is necessary,
    /// not sufficient: TFLM's persistent tail, the stack and the application
    /// need room too.
    pub fn fits(&self, bytes: u64) -> bool {
        bytes <= self.sram_bytes()
    }
}

/// The MCU catalogue from `data/mcus.csv`.
pub fn mcu_catalogue() -> Result<Vec<Mcu>, PlanError> {
    parse_catalogue(CATALOGUE_CSV)
}

fn parse_catalogue(text: &str) -> Result<Vec<Mcu>, PlanError> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .enumerate()
        .map(|(row, record)| {
            record.map_err(|e| PlanError::Catalogue(format!("data/mcus.csv row {}: {e}", row + 2)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_the_chips_the_issue_names_with_datasheet_sram() {
        let catalogue = mcu_catalogue().unwrap();
        let sram = |name: &str| {
            catalogue
                .iter()
                .find(|m| m.name == name)
                .map(|m| m.sram_kib)
        };
        // Datasheet numbers, copied by hand from the sources column.
        assert_eq!(sram("STM32F103C8"), Some(20));
        assert_eq!(sram("STM32F411RE"), Some(128));
        assert_eq!(sram("STM32F746NG"), Some(320));
        assert_eq!(sram("nRF52840"), Some(256));
        assert_eq!(sram("RP2040"), Some(264));
        assert!(catalogue.iter().all(|m| !m.source.is_empty()));
    }

    #[test]
    fn bad_row_names_the_row() {
        let err = parse_catalogue("name,core,sram_kib,source\nX,M0,lots,doc\n").unwrap_err();
        assert!(err.to_string().contains("row 2"), "{err}");
    }
}
