//! Bounds-checked access to the raw bytes of a flatbuffer.
//!
//! Every read goes through [`Bytes`], which checks the offset against the
//! buffer and returns a [`FormatError`] instead of panicking, so a truncated or
//! corrupted model can never crash the reader.

use crate::error::FormatError;

/// The whole flatbuffer, with checked little-endian reads.
#[derive(Clone, Copy)]
pub(crate) struct Bytes<'a> {
    pub data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    fn slice(&self, position: usize, len: usize) -> Result<&'a [u8], FormatError> {
        let end = position
            .checked_add(len)
            .ok_or(FormatError::OutOfBounds { position, len })?;
        self.data
            .get(position..end)
            .ok_or(FormatError::OutOfBounds { position, len })
    }

    pub fn u8_at(&self, position: usize) -> Result<u8, FormatError> {
        Ok(self.slice(position, 1)?[0])
    }

    pub fn u16_at(&self, position: usize) -> Result<u16, FormatError> {
        let s = self.slice(position, 2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }

    pub fn u32_at(&self, position: usize) -> Result<u32, FormatError> {
        let s = self.slice(position, 4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    pub fn i32_at(&self, position: usize) -> Result<i32, FormatError> {
        Ok(self.u32_at(position)? as i32)
    }

    pub fn u64_at(&self, position: usize) -> Result<u64, FormatError> {
        let s = self.slice(position, 8)?;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(s);
        Ok(u64::from_le_bytes(raw))
    }

    /// Follows the unsigned forward offset stored at `position`.
    pub fn follow(&self, position: usize) -> Result<usize, FormatError> {
        let offset = self.u32_at(position)? as usize;
        let target = position
            .checked_add(offset)
            .ok_or(FormatError::OutOfBounds {
                position,
                len: offset,
            })?;
        if target >= self.data.len() {
            return Err(FormatError::OutOfBounds {
                position: target,
                len: 1,
            });
        }
        Ok(target)
    }

    /// The table whose root offset is stored at `position`.
    pub fn table_at_offset(&self, position: usize) -> Result<Table<'a>, FormatError> {
        let table = self.follow(position)?;
        Table::at(*self, table)
    }
}

/// One flatbuffer table: its position and its vtable.
#[derive(Clone, Copy)]
pub(crate) struct Table<'a> {
    bytes: Bytes<'a>,
    /// Absolute position of the table (its soffset to the vtable).
    pub position: usize,
    /// Absolute position of the vtable.
    pub vtable: usize,
    /// Number of field slots the vtable has.
    pub field_count: usize,
    /// Size of the table's inline data, from the vtable.
    pub inline_size: usize,
}

impl<'a> Table<'a> {
    pub fn at(bytes: Bytes<'a>, position: usize) -> Result<Table<'a>, FormatError> {
        if position % 4 != 0 {
            return Err(FormatError::Misaligned { position });
        }
        let soffset = bytes.i32_at(position)? as i64;
        let vtable = position as i64 - soffset;
        if vtable < 0 || vtable as usize >= bytes.data.len() {
            return Err(FormatError::OutOfBounds {
                position: vtable.max(0) as usize,
                len: 4,
            });
        }
        let vtable = vtable as usize;
        let vtable_size = bytes.u16_at(vtable)? as usize;
        let inline_size = bytes.u16_at(vtable + 2)? as usize;
        if vtable_size < 4 || vtable_size % 2 != 0 {
            return Err(FormatError::BadVtable { position: vtable });
        }
        // The vtable and the inline data must both lie inside the buffer.
        bytes.slice(vtable, vtable_size)?;
        bytes.slice(position, inline_size.max(4))?;
        Ok(Table {
            bytes,
            position,
            vtable,
            field_count: (vtable_size - 4) / 2,
            inline_size,
        })
    }

    /// Absolute position of field `id`, if the table has it.
    pub fn field_position(&self, id: usize) -> Result<Option<usize>, FormatError> {
        if id >= self.field_count {
            return Ok(None);
        }
        let relative = self.bytes.u16_at(self.vtable + 4 + 2 * id)? as usize;
        if relative == 0 {
            return Ok(None);
        }
        if relative >= self.inline_size {
            return Err(FormatError::BadVtable {
                position: self.vtable,
            });
        }
        Ok(Some(self.position + relative))
    }

    pub fn u8_field(&self, id: usize, default: u8) -> Result<u8, FormatError> {
        match self.field_position(id)? {
            Some(p) => self.bytes.u8_at(p),
            None => Ok(default),
        }
    }

    pub fn i8_field(&self, id: usize, default: i8) -> Result<i8, FormatError> {
        Ok(self.u8_field(id, default as u8)? as i8)
    }

    pub fn bool_field(&self, id: usize) -> Result<bool, FormatError> {
        Ok(self.u8_field(id, 0)? != 0)
    }

    pub fn i32_field(&self, id: usize, default: i32) -> Result<i32, FormatError> {
        match self.field_position(id)? {
            Some(p) => self.bytes.i32_at(p),
            None => Ok(default),
        }
    }

    pub fn u32_field(&self, id: usize, default: u32) -> Result<u32, FormatError> {
        Ok(self.i32_field(id, default as i32)? as u32)
    }

    pub fn f32_field(&self, id: usize, default: f32) -> Result<f32, FormatError> {
        Ok(f32::from_bits(self.u32_field(id, default.to_bits())?))
    }

    pub fn u64_field(&self, id: usize, default: u64) -> Result<u64, FormatError> {
        match self.field_position(id)? {
            Some(p) => self.bytes.u64_at(p),
            None => Ok(default),
        }
    }

    /// Absolute target of the offset field `id`, if present.
    pub fn offset_field(&self, id: usize) -> Result<Option<usize>, FormatError> {
        match self.field_position(id)? {
            Some(p) => Ok(Some(self.bytes.follow(p)?)),
            None => Ok(None),
        }
    }

    pub fn table_field(&self, id: usize) -> Result<Option<Table<'a>>, FormatError> {
        match self.offset_field(id)? {
            Some(p) => Ok(Some(Table::at(self.bytes, p)?)),
            None => Ok(None),
        }
    }

    pub fn vector_field(
        &self,
        id: usize,
        element_size: usize,
    ) -> Result<Option<Vector<'a>>, FormatError> {
        match self.offset_field(id)? {
            Some(p) => Ok(Some(Vector::at(self.bytes, p, element_size)?)),
            None => Ok(None),
        }
    }

    pub fn string_field(&self, id: usize) -> Result<Option<String>, FormatError> {
        match self.vector_field(id, 1)? {
            Some(v) => {
                let raw = v.raw_bytes()?;
                Ok(Some(String::from_utf8_lossy(raw).into_owned()))
            }
            None => Ok(None),
        }
    }
}

/// A flatbuffer vector: a u32 length followed by its elements.
#[derive(Clone, Copy)]
pub(crate) struct Vector<'a> {
    bytes: Bytes<'a>,
    /// Absolute position of element 0.
    pub start: usize,
    pub len: usize,
    element_size: usize,
}

impl<'a> Vector<'a> {
    fn at(
        bytes: Bytes<'a>,
        position: usize,
        element_size: usize,
    ) -> Result<Vector<'a>, FormatError> {
        let len = bytes.u32_at(position)? as usize;
        let start = position + 4;
        let total = len
            .checked_mul(element_size)
            .ok_or(FormatError::OutOfBounds {
                position: start,
                len,
            })?;
        bytes.slice(start, total)?;
        Ok(Vector {
            bytes,
            start,
            len,
            element_size,
        })
    }

    pub fn raw_bytes(&self) -> Result<&'a [u8], FormatError> {
        self.bytes.slice(self.start, self.len * self.element_size)
    }

    pub fn i32_at(&self, index: usize) -> Result<i32, FormatError> {
        self.bytes.i32_at(self.start + 4 * index)
    }

    pub fn i32s(&self) -> Result<Vec<i32>, FormatError> {
        (0..self.len).map(|i| self.i32_at(i)).collect()
    }

    pub fn table_at(&self, index: usize) -> Result<Table<'a>, FormatError> {
        self.bytes.table_at_offset(self.start + 4 * index)
    }

    pub fn tables(&self) -> impl Iterator<Item = Result<Table<'a>, FormatError>> + '_ {
        (0..self.len).map(move |i| self.table_at(i))
    }
}
