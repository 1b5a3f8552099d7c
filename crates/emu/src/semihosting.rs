//! ARM semihosting (`BKPT 0xAB`), enough for newlib's `rdimon.specs`:
//! console output, the `:semihosting-features` file (so newlib passes exit
//! codes through `SYS_EXIT_EXTENDED`), heap info and exit. Everything is
//! deterministic: the clock counts instructions, the time is 0.

/// A guest address range that is not mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unreadable;

/// Guest memory as the semihosting calls need it.
pub trait GuestMemory {
    fn read(&mut self, address: u32, buffer: &mut [u8]) -> Result<(), Unreadable>;
    fn write(&mut self, address: u32, bytes: &[u8]) -> Result<(), Unreadable>;

    fn read_word(&mut self, address: u32) -> Result<u32, Unreadable> {
        let mut word = [0u8; 4];
        self.read(address, &mut word)?;
        Ok(u32::from_le_bytes(word))
    }

    /// A NUL-terminated string, at most `limit` bytes.
    fn read_c_string(&mut self, address: u32, limit: usize) -> Result<Vec<u8>, Unreadable> {
        let mut text = Vec::new();
        let mut byte = [0u8; 1];
        for offset in 0..limit as u32 {
            self.read(address.wrapping_add(offset), &mut byte)?;
            if byte[0] == 0 {
                break;
            }
            text.push(byte[0]);
        }
        Ok(text)
    }
}

pub const SYS_OPEN: u32 = 0x01;
pub const SYS_CLOSE: u32 = 0x02;
pub const SYS_WRITEC: u32 = 0x03;
pub const SYS_WRITE0: u32 = 0x04;
pub const SYS_WRITE: u32 = 0x05;
pub const SYS_READ: u32 = 0x06;
pub const SYS_READC: u32 = 0x07;
pub const SYS_ISERROR: u32 = 0x08;
pub const SYS_ISTTY: u32 = 0x09;
pub const SYS_SEEK: u32 = 0x0a;
pub const SYS_FLEN: u32 = 0x0c;
pub const SYS_CLOCK: u32 = 0x10;
pub const SYS_TIME: u32 = 0x11;
pub const SYS_ERRNO: u32 = 0x13;
pub const SYS_GET_CMDLINE: u32 = 0x15;
pub const SYS_HEAPINFO: u32 = 0x16;
pub const SYS_EXIT: u32 = 0x18;
pub const SYS_EXIT_EXTENDED: u32 = 0x20;
pub const SYS_ELAPSED: u32 = 0x30;
pub const SYS_TICKFREQ: u32 = 0x31;

/// `ADP_Stopped_ApplicationExit`: the reason code of a normal `exit()`.
pub const APPLICATION_EXIT: u32 = 0x20026;

/// The `:semihosting-features` file: magic "SHFB" and one feature byte
/// (bit 0: SYS_EXIT_EXTENDED, bit 1: stdout/stderr via `:tt`).
const FEATURES_FILE: [u8; 5] = [b'S', b'H', b'F', b'B', 0b11];

/// Which stream firmware output went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What the emulator must do after a semihosting call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Put `result` in r0 and go on.
    Continue { result: u32 },
    /// The firmware exited normally with this status.
    Exit { status: i32 },
    /// The firmware stopped for another reason (abort, unknown call, ...).
    Stopped { reason: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handle {
    Stdin,
    Stdout,
    Stderr,
    Features { position: u32 },
}

/// Semihosting state of one run: open handles and captured output.
#[derive(Debug, Default)]
pub struct Semihosting {
    handles: Vec<Option<Handle>>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Heap and stack limits reported by `SYS_HEAPINFO`:
    /// `[heap_base, heap_limit, stack_base, stack_limit]`.
    pub heap_info: [u32; 4],
    calls: u64,
}

impl Semihosting {
    pub fn new(heap_info: [u32; 4]) -> Semihosting {
        Semihosting {
            heap_info,
            ..Semihosting::default()
        }
    }

    /// Number of semihosting calls served.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    fn output(&mut self, stream: Stream, bytes: &[u8]) {
        match stream {
            Stream::Stdout => self.stdout.extend_from_slice(bytes),
            Stream::Stderr => self.stderr.extend_from_slice(bytes),
        }
    }

    fn open(&mut self, handle: Handle) -> u32 {
        self.handles.push(Some(handle));
        // Handle numbers start at 1: newlib treats 0 as valid but some C
        // libraries do not.
        self.handles.len() as u32
    }

    fn handle(&self, number: u32) -> Option<Handle> {
        self.handles
            .get((number as usize).checked_sub(1)?)
            .copied()
            .flatten()
    }

    /// Serves call `operation` with parameter `parameter` (r0 and r1).
    /// `instructions` drives the deterministic clock.
    pub fn call(
        &mut self,
        operation: u32,
        parameter: u32,
        instructions: u64,
        memory: &mut impl GuestMemory,
    ) -> Outcome {
        self.calls += 1;
        match self.serve(operation, parameter, instructions, memory) {
            Ok(outcome) => outcome,
            Err(Unreadable) => Outcome::Stopped {
                reason: format!(
                    "semihosting call 0x{operation:02x} passed an unreadable parameter block at 0x{parameter:08x}"
                ),
            },
        }
    }

    fn serve(
        &mut self,
        operation: u32,
        parameter: u32,
        instructions: u64,
        memory: &mut impl GuestMemory,
    ) -> Result<Outcome, Unreadable> {
        let word = |memory: &mut dyn FnMut(u32) -> Result<u32, Unreadable>, index: u32| {
            memory(parameter.wrapping_add(4 * index))
        };
        let mut read_word = |address: u32| memory.read_word(address);
        let ok = |result: u32| Ok(Outcome::Continue { result });
        match operation {
            SYS_OPEN => {
                let name_address = word(&mut read_word, 0)?;
                let mode = word(&mut read_word, 1)?;
                let name_len = word(&mut read_word, 2)?;
                let mut name = vec![0u8; name_len.min(256) as usize];
                memory.read(name_address, &mut name)?;
                let handle = match (name.as_slice(), mode) {
                    (b":tt", 0..=3) => Some(Handle::Stdin),
                    (b":tt", 4..=7) => Some(Handle::Stdout),
                    (b":tt", _) => Some(Handle::Stderr),
                    (b":semihosting-features", 0..=3) => Some(Handle::Features { position: 0 }),
                    _ => None,
                };
                ok(handle.map_or(u32::MAX, |handle| self.open(handle)))
            }
            SYS_CLOSE => {
                let number = word(&mut read_word, 0)?;
                match self.handle(number) {
                    Some(_) => {
                        self.handles[number as usize - 1] = None;
                        ok(0)
                    }
                    None => ok(u32::MAX),
                }
            }
            SYS_WRITEC => {
                let mut byte = [0u8; 1];
                memory.read(parameter, &mut byte)?;
                self.output(Stream::Stdout, &byte);
                ok(0)
            }
            SYS_WRITE0 => {
                let text = memory.read_c_string(parameter, 1 << 20)?;
                self.output(Stream::Stdout, &text);
                ok(0)
            }
            SYS_WRITE => {
                let number = word(&mut read_word, 0)?;
                let buffer = word(&mut read_word, 1)?;
                let len = word(&mut read_word, 2)?;
                let stream = match self.handle(number) {
                    Some(Handle::Stdout) => Stream::Stdout,
                    Some(Handle::Stderr) => Stream::Stderr,
                    // Not written: report all bytes as left over.
                    _ => return ok(len),
                };
                let mut bytes = vec![0u8; len.min(1 << 24) as usize];
                memory.read(buffer, &mut bytes)?;
                self.output(stream, &bytes);
                ok(0)
            }
            SYS_READ => {
                let number = word(&mut read_word, 0)?;
                let buffer = word(&mut read_word, 1)?;
                let len = word(&mut read_word, 2)?;
                match self.handle(number) {
                    Some(Handle::Features { position }) => {
                        let start = (position as usize).min(FEATURES_FILE.len());
                        let available = &FEATURES_FILE[start..];
                        let count = available.len().min(len as usize);
                        memory.write(buffer, &available[..count])?;
                        self.handles[number as usize - 1] = Some(Handle::Features {
                            position: position + count as u32,
                        });
                        ok(len - count as u32)
                    }
                    // Standard input is empty: nothing read, all bytes left.
                    Some(_) => ok(len),
                    None => ok(u32::MAX),
                }
            }
            SYS_READC => ok(u32::MAX),
            SYS_ISERROR => ok((word(&mut read_word, 0)? as i32).is_negative() as u32),
            SYS_ISTTY => {
                let number = word(&mut read_word, 0)?;
                ok(matches!(
                    self.handle(number),
                    Some(Handle::Stdin | Handle::Stdout | Handle::Stderr)
                ) as u32)
            }
            SYS_SEEK => {
                let number = word(&mut read_word, 0)?;
                let position = word(&mut read_word, 1)?;
                match self.handle(number) {
                    Some(Handle::Features { .. }) => {
                        self.handles[number as usize - 1] = Some(Handle::Features { position });
                        ok(0)
                    }
                    Some(_) => ok(0),
                    None => ok(u32::MAX),
                }
            }
            SYS_FLEN => {
                let number = word(&mut read_word, 0)?;
                match self.handle(number) {
                    Some(Handle::Features { .. }) => ok(FEATURES_FILE.len() as u32),
                    Some(_) => ok(0),
                    None => ok(u32::MAX),
                }
            }
            // Centiseconds, with the CPU taken to run 100 M instructions a second.
            SYS_CLOCK => ok((instructions / 1_000_000) as u32),
            SYS_TIME | SYS_ERRNO => ok(0),
            SYS_GET_CMDLINE => {
                let buffer = word(&mut read_word, 0)?;
                memory.write(buffer, &[0])?;
                memory.write(parameter.wrapping_add(4), &0u32.to_le_bytes())?;
                ok(0)
            }
            SYS_HEAPINFO => {
                let block = memory.read_word(parameter)?;
                let mut bytes = [0u8; 16];
                for (chunk, value) in bytes.chunks_mut(4).zip(self.heap_info) {
                    chunk.copy_from_slice(&value.to_le_bytes());
                }
                memory.write(block, &bytes)?;
                ok(0)
            }
            SYS_ELAPSED => {
                memory.write(parameter, &instructions.to_le_bytes())?;
                ok(0)
            }
            SYS_TICKFREQ => ok(100_000_000),
            SYS_EXIT => Ok(exit_outcome(parameter, 0)),
            SYS_EXIT_EXTENDED => {
                let reason = word(&mut read_word, 0)?;
                let status = word(&mut read_word, 1)?;
                Ok(exit_outcome(reason, status as i32))
            }
            other => Ok(Outcome::Stopped {
                reason: format!("unsupported semihosting call 0x{other:02x}"),
            }),
        }
    }
}

fn exit_outcome(reason: u32, status: i32) -> Outcome {
    match reason {
        APPLICATION_EXIT => Outcome::Exit { status },
        // ADP_Stopped_RunTimeErrorUnknown: what newlib's abort() reports.
        0x20023 => Outcome::Stopped {
            reason: "firmware called abort()".into(),
        },
        other => Outcome::Stopped {
            reason: format!("firmware stopped with semihosting reason 0x{other:x}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flat memory from address 0.
    struct Flat(Vec<u8>);

    impl GuestMemory for Flat {
        fn read(&mut self, address: u32, buffer: &mut [u8]) -> Result<(), Unreadable> {
            let start = address as usize;
            buffer.copy_from_slice(self.0.get(start..start + buffer.len()).ok_or(Unreadable)?);
            Ok(())
        }
        fn write(&mut self, address: u32, bytes: &[u8]) -> Result<(), Unreadable> {
            let start = address as usize;
            self.0
                .get_mut(start..start + bytes.len())
                .ok_or(Unreadable)?
                .copy_from_slice(bytes);
            Ok(())
        }
    }

    fn put_words(memory: &mut Flat, address: u32, words: &[u32]) {
        for (index, word) in words.iter().enumerate() {
            memory
                .write(address + 4 * index as u32, &word.to_le_bytes())
                .unwrap();
        }
    }

    #[test]
    fn newlib_console_and_extended_exit() {
        let mut memory = Flat(vec![0; 1024]);
        let mut host = Semihosting::default();
        memory.write(0x100, b":tt").unwrap();
        memory.write(0x110, b":semihosting-features").unwrap();
        // open(":tt", "w") -> stdout
        put_words(&mut memory, 0x200, &[0x100, 4, 3]);
        let Outcome::Continue { result: stdout } = host.call(SYS_OPEN, 0x200, 0, &mut memory)
        else {
            panic!()
        };
        memory.write(0x300, b"hi\n").unwrap();
        put_words(&mut memory, 0x210, &[stdout, 0x300, 3]);
        assert_eq!(
            host.call(SYS_WRITE, 0x210, 0, &mut memory),
            Outcome::Continue { result: 0 }
        );
        assert_eq!(host.stdout, b"hi\n");
        // The features file says SYS_EXIT_EXTENDED is supported.
        put_words(&mut memory, 0x220, &[0x110, 0, 21]);
        let Outcome::Continue { result: features } = host.call(SYS_OPEN, 0x220, 0, &mut memory)
        else {
            panic!()
        };
        put_words(&mut memory, 0x230, &[features]);
        assert_eq!(
            host.call(SYS_FLEN, 0x230, 0, &mut memory),
            Outcome::Continue { result: 5 }
        );
        put_words(&mut memory, 0x240, &[features, 0x380, 5]);
        assert_eq!(
            host.call(SYS_READ, 0x240, 0, &mut memory),
            Outcome::Continue { result: 0 }
        );
        assert_eq!(&memory.0[0x380..0x385], b"SHFB\x03");
        put_words(&mut memory, 0x250, &[APPLICATION_EXIT, 3]);
        assert_eq!(
            host.call(SYS_EXIT_EXTENDED, 0x250, 0, &mut memory),
            Outcome::Exit { status: 3 }
        );
    }

    #[test]
    fn plain_exit_and_abort() {
        let mut memory = Flat(vec![0; 16]);
        let mut host = Semihosting::default();
        assert_eq!(
            host.call(SYS_EXIT, APPLICATION_EXIT, 0, &mut memory),
            Outcome::Exit { status: 0 }
        );
        assert!(matches!(
            host.call(SYS_EXIT, 0x20023, 0, &mut memory),
            Outcome::Stopped { .. }
        ));
        assert!(matches!(
            host.call(0x99, 0, 0, &mut memory),
            Outcome::Stopped { reason } if reason.contains("0x99")
        ));
    }

    #[test]
    fn write0_and_writec_go_to_stdout() {
        let mut memory = Flat(vec![0; 64]);
        let mut host = Semihosting::default();
        memory.write(0x10, b"abc\0").unwrap();
        host.call(SYS_WRITE0, 0x10, 0, &mut memory);
        host.call(SYS_WRITEC, 0x11, 0, &mut memory);
        assert_eq!(host.stdout, b"abcb");
    }

    #[test]
    fn heapinfo_fills_the_block() {
        let mut memory = Flat(vec![0; 64]);
        let mut host = Semihosting::new([1, 2, 3, 4]);
        put_words(&mut memory, 0x0, &[0x20]);
        host.call(SYS_HEAPINFO, 0x0, 0, &mut memory);
        assert_eq!(memory.read_word(0x20).unwrap(), 1);
        assert_eq!(memory.read_word(0x2c).unwrap(), 4);
    }
}
