//! Axis units: byte offsets in B, KB or MB and event times in plain,
//! thousand or million events, picked from the span so tick labels stay
//! short and land on round values of the unit the reader sees.

/// How a byte axis is labelled.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct ByteUnit {
    pub bytes_per_unit: f64,
    pub name: &'static str,
}

impl ByteUnit {
    /// Bytes below 4 KB, KB below 4 MB, else MB (1 KB = 1024 bytes).
    pub fn for_span(span: u64) -> ByteUnit {
        if span < 4 << 10 {
            ByteUnit {
                bytes_per_unit: 1.0,
                name: "bytes",
            }
        } else if span < 4 << 20 {
            ByteUnit {
                bytes_per_unit: 1024.0,
                name: "KB",
            }
        } else {
            ByteUnit {
                bytes_per_unit: 1048576.0,
                name: "MB",
            }
        }
    }

    pub fn of(&self, bytes: f64) -> f64 {
        bytes / self.bytes_per_unit
    }
}

/// How a time axis is labelled.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct TimeUnit {
    pub events_per_unit: f64,
    pub name: &'static str,
}

impl TimeUnit {
    pub fn for_span(span: u64) -> TimeUnit {
        if span < 20_000 {
            TimeUnit {
                events_per_unit: 1.0,
                name: "memory events",
            }
        } else if span < 20_000_000 {
            TimeUnit {
                events_per_unit: 1e3,
                name: "thousand memory events",
            }
        } else {
            TimeUnit {
                events_per_unit: 1e6,
                name: "million memory events",
            }
        }
    }

    pub fn of(&self, events: f64) -> f64 {
        events / self.events_per_unit
    }
}

/// A tick label: integers without a fraction, else at most two decimals
/// with trailing zeros removed.
pub fn tick(value: &f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    if rounded == rounded.trunc() {
        format!("{}", rounded as i64)
    } else {
        let text = format!("{rounded:.2}");
        text.trim_end_matches('0').to_string()
    }
}

/// A byte count for captions: `512 B`, `18.0 KB (18432 B)`.
pub fn bytes_text(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else {
        format!("{:.1} KB ({bytes} B)", bytes as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_the_span() {
        assert_eq!(ByteUnit::for_span(4095).name, "bytes");
        assert_eq!(ByteUnit::for_span(4096).name, "KB");
        assert_eq!(ByteUnit::for_span(55296).of(55296.0), 54.0);
        assert_eq!(TimeUnit::for_span(3_049_543).name, "thousand memory events");
        assert_eq!(TimeUnit::for_span(100_000_000).of(2.5e7), 25.0);
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick(&3.0), "3");
        assert_eq!(tick(&2.5), "2.5");
        assert_eq!(tick(&0.125), "0.13");
        assert_eq!(tick(&-0.0), "0");
        assert_eq!(bytes_text(256), "256 B");
        assert_eq!(bytes_text(36871), "36.0 KB (36871 B)");
    }
}
