//! Writes an `OfflineMemoryAllocation` plan into a copy of a model.
//!
//! Flatbuffer offsets only point forward, so a new root cannot be appended.
//! Instead a new root `Model` table is *prepended*: it has the old field
//! values (offsets re-aimed at the untouched old tables), a `buffers` vector
//! of the old buffers plus one holding the plan, and a `metadata` vector of
//! the old entries plus `OfflineMemoryAllocation`. The prefix is a multiple of
//! 16 bytes, so the old bytes keep their alignment, and every old table stays
//! byte-identical.

use crate::error::FormatError;
use crate::model::{model_field, root_table, Model, OFFLINE_PLAN_METADATA};
use thiserror::Error;

/// Why a plan could not be written into a model.
#[derive(Debug, Error)]
pub enum EmitError {
    #[error("not a valid .tflite model")]
    Format(#[from] FormatError),
    #[error("plan has {got} offsets but the model has {expected} tensors")]
    PlanLength { expected: usize, got: usize },
    #[error(
        "model keeps buffer data outside the flatbuffer (over 2 GB layout); cannot prepend a plan"
    )]
    ExternalBuffers,
    #[error("model table has field {0}, which this writer does not know")]
    UnknownModelField(usize),
}

/// Returns a copy of `model_bytes` whose metadata holds `offsets` (one per
/// tensor of all subgraphs, bytes from the start of the arena head, -1 =
/// planned online) as TFLM's offline plan. An existing plan is replaced.
pub fn with_offline_plan(model_bytes: &[u8], offsets: &[i32]) -> Result<Vec<u8>, EmitError> {
    with_offline_plan_and_metadata(model_bytes, offsets, &[])
}

/// [`with_offline_plan`], plus further metadata entries `(name, data)` that
/// TFLM ignores (dmo's own record of the plan). Existing entries with the
/// same names are replaced.
pub fn with_offline_plan_and_metadata(
    model_bytes: &[u8],
    offsets: &[i32],
    extra: &[(&str, &[u8])],
) -> Result<Vec<u8>, EmitError> {
    let model = Model::parse(model_bytes)?;
    let expected = model.total_tensor_count();
    if offsets.len() != expected {
        return Err(EmitError::PlanLength {
            expected,
            got: offsets.len(),
        });
    }
    let root = root_table(model_bytes)?;
    for id in model_field::COUNT..root.field_count {
        if root.field_position(id)?.is_some() {
            return Err(EmitError::UnknownModelField(id));
        }
    }
    let version = root.u32_field(model_field::VERSION, 0)?;

    // Old buffer tables (absolute positions in the old bytes).
    let mut old_buffers = Vec::new();
    if let Some(vector) = root.vector_field(model_field::BUFFERS, 4)? {
        for index in 0..vector.len {
            let table = vector.table_at(index)?;
            if table.u64_field(1, 0)? > 1 {
                return Err(EmitError::ExternalBuffers);
            }
            old_buffers.push(table.position);
        }
    }
    // Old metadata entries, minus any previous offline plan.
    let mut old_metadata = Vec::new();
    if let Some(vector) = root.vector_field(model_field::METADATA, 4)? {
        for index in 0..vector.len {
            let table = vector.table_at(index)?;
            let name = table.string_field(0)?;
            let replaced = name.as_deref() == Some(OFFLINE_PLAN_METADATA)
                || extra.iter().any(|(new, _)| name.as_deref() == Some(*new));
            if !replaced {
                old_metadata.push(table.position);
            }
        }
    }
    let other_fields = [
        model_field::OPERATOR_CODES,
        model_field::SUBGRAPHS,
        model_field::DESCRIPTION,
        model_field::METADATA_BUFFER,
        model_field::SIGNATURE_DEFS,
    ];
    let mut old_targets = Vec::new();
    for id in other_fields {
        if let Some(target) = root.offset_field(id)? {
            old_targets.push((id, target));
        }
    }

    let mut plan_bytes = Vec::with_capacity(4 * (3 + offsets.len()));
    let header = [1i32, model.subgraph_count() as i32, offsets.len() as i32];
    for value in header.iter().chain(offsets) {
        plan_bytes.extend_from_slice(&value.to_le_bytes());
    }
    let mut entries: Vec<(&str, &[u8])> = vec![(OFFLINE_PLAN_METADATA, &plan_bytes)];
    entries.extend_from_slice(extra);

    let mut prefix = Prefix::default();
    // Header: root offset, then the file identifier.
    let root_slot = prefix.u32(0);
    prefix.bytes(b"TFL3");

    // Root vtable: every known field gets a 4-byte slot in the table.
    let vtable = prefix.position();
    prefix.u16((4 + 2 * model_field::COUNT) as u16);
    prefix.u16((4 + 4 * model_field::COUNT) as u16);
    let present = |id: usize| -> bool {
        id == model_field::VERSION
            || id == model_field::BUFFERS
            || id == model_field::METADATA
            || old_targets.iter().any(|(field, _)| *field == id)
    };
    for id in 0..model_field::COUNT {
        prefix.u16(if present(id) { (4 + 4 * id) as u16 } else { 0 });
    }
    prefix.align(4);
    let table = prefix.position();
    prefix.patch_u32(root_slot, table as u32);
    prefix.u32((table - vtable) as u32);
    let field_slots: Vec<usize> = (0..model_field::COUNT).map(|_| prefix.u32(0)).collect();
    prefix.patch_u32(field_slots[model_field::VERSION], version);
    for (id, target) in &old_targets {
        prefix.forward_to_old(field_slots[*id], *target);
    }

    // buffers: old ones, then one per new metadata entry.
    let buffers_vector = prefix.position();
    prefix.patch_forward(field_slots[model_field::BUFFERS], buffers_vector);
    prefix.u32((old_buffers.len() + entries.len()) as u32);
    for target in &old_buffers {
        let slot = prefix.u32(0);
        prefix.forward_to_old(slot, *target);
    }
    let new_buffer_slots: Vec<usize> = entries.iter().map(|_| prefix.u32(0)).collect();
    let first_new_buffer = old_buffers.len() as u32;

    // metadata: old entries, then the new ones.
    let metadata_vector = prefix.position();
    prefix.patch_forward(field_slots[model_field::METADATA], metadata_vector);
    prefix.u32((old_metadata.len() + entries.len()) as u32);
    for target in &old_metadata {
        let slot = prefix.u32(0);
        prefix.forward_to_old(slot, *target);
    }
    let new_metadata_slots: Vec<usize> = entries.iter().map(|_| prefix.u32(0)).collect();

    for (index, (name, data)) in entries.iter().enumerate() {
        // Buffer { data } table.
        let buffer_vtable = prefix.position();
        prefix.u16(6);
        prefix.u16(8);
        prefix.u16(4);
        prefix.align(4);
        let buffer_table = prefix.position();
        prefix.patch_forward(new_buffer_slots[index], buffer_table);
        prefix.u32((buffer_table - buffer_vtable) as u32);
        let data_slot = prefix.u32(0);

        // Metadata { name, buffer } table.
        let metadata_vtable = prefix.position();
        prefix.u16(8);
        prefix.u16(12);
        prefix.u16(4);
        prefix.u16(8);
        let metadata_table = prefix.position();
        prefix.patch_forward(new_metadata_slots[index], metadata_table);
        prefix.u32((metadata_table - metadata_vtable) as u32);
        let name_slot = prefix.u32(0);
        prefix.u32(first_new_buffer + index as u32);

        // The name string (length, bytes, NUL).
        prefix.align(4);
        let name_position = prefix.position();
        prefix.patch_forward(name_slot, name_position);
        prefix.u32(name.len() as u32);
        prefix.bytes(name.as_bytes());
        prefix.bytes(&[0]);

        // The data: a byte vector whose first element is 16-byte aligned.
        while (prefix.position() + 4) % 16 != 0 {
            prefix.bytes(&[0]);
        }
        let data_position = prefix.position();
        prefix.patch_forward(data_slot, data_position);
        prefix.u32(data.len() as u32);
        prefix.bytes(data);
        prefix.align(16);
    }

    let shift = prefix.data.len();
    for (slot, old_target) in &prefix.to_old {
        let relative = shift + old_target - slot;
        prefix.data[*slot..*slot + 4].copy_from_slice(&(relative as u32).to_le_bytes());
    }
    let mut out = prefix.data;
    out.extend_from_slice(model_bytes);
    Ok(out)
}

/// The bytes put in front of the old model, with offsets into the old bytes
/// resolved once the prefix length is known.
#[derive(Default)]
struct Prefix {
    data: Vec<u8>,
    /// (slot, absolute position in the old bytes) pairs to patch at the end.
    to_old: Vec<(usize, usize)>,
}

impl Prefix {
    fn position(&self) -> usize {
        self.data.len()
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }

    fn u16(&mut self, value: u16) {
        self.bytes(&value.to_le_bytes());
    }

    /// Writes a u32 and returns its position.
    fn u32(&mut self, value: u32) -> usize {
        let at = self.position();
        self.bytes(&value.to_le_bytes());
        at
    }

    fn align(&mut self, to: usize) {
        while self.data.len() % to != 0 {
            self.data.push(0);
        }
    }

    fn patch_u32(&mut self, slot: usize, value: u32) {
        self.data[slot..slot + 4].copy_from_slice(&value.to_le_bytes());
    }

    /// Points the offset at `slot` forward to `target` within the prefix.
    fn patch_forward(&mut self, slot: usize, target: usize) {
        debug_assert!(target > slot);
        self.patch_u32(slot, (target - slot) as u32);
    }

    fn forward_to_old(&mut self, slot: usize, old_target: usize) {
        self.to_old.push((slot, old_target));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;
    use std::path::PathBuf;

    fn models_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/models")
    }

    #[test]
    fn emitted_plan_reads_back_and_the_rest_is_unchanged() {
        for name in [
            "person_detect.tflite",
            "keyword_scrambled.tflite",
            "hello_world_int8.tflite",
        ] {
            let bytes = std::fs::read(models_dir().join(name)).unwrap();
            let original = Model::parse(&bytes).unwrap();
            let offsets: Vec<i32> = (0..original.total_tensor_count() as i32)
                .map(|i| i * 16 - 1)
                .collect();
            let emitted = with_offline_plan(&bytes, &offsets).unwrap();
            let shift = emitted.len() - bytes.len();
            assert_eq!(shift % 16, 0);
            assert_eq!(
                &emitted[shift..],
                &bytes[..],
                "{name}: old bytes must be untouched"
            );
            let reread = Model::parse(&emitted).unwrap();
            assert_eq!(reread.offline_plan.as_deref(), Some(&offsets[..]), "{name}");
            assert_eq!(reread.tensors, original.tensors, "{name}");
            assert_eq!(reread.operators, original.operators, "{name}");
            assert_eq!(reread.inputs, original.inputs);
            assert_eq!(reread.outputs, original.outputs);
            assert_eq!(reread.version, original.version);
            assert_eq!(reread.description, original.description);
            assert_eq!(
                &reread.metadata[..original.metadata.len()],
                &original.metadata[..]
            );
            assert_eq!(reread.metadata.last().unwrap().name, OFFLINE_PLAN_METADATA);

            // Writing a second plan replaces the first instead of adding one.
            let second: Vec<i32> = offsets.iter().map(|o| o + 1).collect();
            let twice = Model::parse(&with_offline_plan(&emitted, &second).unwrap()).unwrap();
            assert_eq!(twice.offline_plan.as_deref(), Some(&second[..]));
            let plans = twice
                .metadata
                .iter()
                .filter(|m| m.name == OFFLINE_PLAN_METADATA)
                .count();
            assert_eq!(plans, 1);
        }
    }

    #[test]
    fn extra_metadata_reads_back_and_replaces_its_namesake() {
        let bytes = std::fs::read(models_dir().join("kws_ref_model.tflite")).unwrap();
        let original = Model::parse(&bytes).unwrap();
        let offsets: Vec<i32> = vec![-1; original.total_tensor_count()];
        // Odd lengths check that each entry's data keeps its own length.
        let first = with_offline_plan_and_metadata(
            &bytes,
            &offsets,
            &[("dmo_plan", b"{\"a\":1}"), ("other", b"xyz")],
        )
        .unwrap();
        let reread = Model::parse(&first).unwrap();
        assert_eq!(reread.offline_plan.as_deref(), Some(&offsets[..]));
        assert_eq!(reread.metadata_data("dmo_plan"), Some(&b"{\"a\":1}"[..]));
        assert_eq!(reread.metadata_data("other"), Some(&b"xyz"[..]));
        assert_eq!(reread.tensors, original.tensors);

        let second =
            with_offline_plan_and_metadata(&first, &offsets, &[("dmo_plan", b"second")]).unwrap();
        let reread = Model::parse(&second).unwrap();
        assert_eq!(reread.metadata_data("dmo_plan"), Some(&b"second"[..]));
        assert_eq!(reread.metadata_data("other"), Some(&b"xyz"[..]));
        let named = |name: &str| reread.metadata.iter().filter(|m| m.name == name).count();
        assert_eq!((named("dmo_plan"), named(OFFLINE_PLAN_METADATA)), (1, 1));
    }

    #[test]
    fn wrong_plan_length_is_an_error() {
        let bytes = std::fs::read(models_dir().join("hello_world_int8.tflite")).unwrap();
        let err = with_offline_plan(&bytes, &[0, 16]).unwrap_err();
        assert!(matches!(err, EmitError::PlanLength { got: 2, .. }), "{err}");
    }
}
