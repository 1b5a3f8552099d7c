//! A deterministic, realistic event stream: the loops of a 3x3 int8 CONV_2D
//! as TFLM's reference kernel runs them (NHWC, valid padding), with the
//! stack traffic of a call per output element. Shared by tests and benches.

use dmo_core::{AccessKind, Address, Buffer, BufferRole, Event, EventSink, EventTime};

pub const INPUT_BASE: u32 = 0x2000_1000;
pub const OUTPUT_BASE: u32 = 0x2000_8000;
pub const WEIGHTS_BASE: u32 = 0x0800_4000;
pub const BIAS_BASE: u32 = 0x0800_9000;
pub const STACK_TOP: u32 = 0x2001_0000;

/// Shape of the synthetic convolution.
#[derive(Clone, Copy)]
pub struct ConvShape {
    pub height: u32,
    pub width: u32,
    pub in_channels: u32,
    pub out_channels: u32,
}

impl ConvShape {
    pub fn out_height(&self) -> u32 {
        self.height - 2
    }
    pub fn out_width(&self) -> u32 {
        self.width - 2
    }
    pub fn input_len(&self) -> u32 {
        self.height * self.width * self.in_channels
    }
    pub fn output_len(&self) -> u32 {
        self.out_height() * self.out_width() * self.out_channels
    }
    /// Events `emit_conv` produces: per output element 4 stack writes,
    /// 9*in_channels input reads and as many weight reads, one 4-byte bias
    /// read, one output write, 4 stack reads.
    pub fn event_count(&self) -> u64 {
        let per_output = 4 + 2 * 9 * self.in_channels as u64 + 1 + 1 + 4;
        self.output_len() as u64 * per_output
    }
}

struct Emitter<'a> {
    sink: &'a mut dyn EventSink,
    time: u64,
}

impl Emitter<'_> {
    fn emit(&mut self, pc: u32, address: u32, size: u8, kind: AccessKind) {
        self.sink.event(&Event {
            time: EventTime(self.time),
            pc: Address(pc),
            address: Address(address),
            size,
            kind,
        });
        self.time += 1;
    }
}

/// Sends one convolution op, markers included, to `sink`, starting at `start`.
/// Returns the time after its last event.
pub fn emit_conv(sink: &mut dyn EventSink, shape: ConvShape, start: u64) -> u64 {
    sink.op_begin(EventTime(start), "conv_0", "CONV_2D");
    for (name, base, len, role) in [
        ("input", INPUT_BASE, shape.input_len(), BufferRole::Input),
        (
            "output",
            OUTPUT_BASE,
            shape.output_len(),
            BufferRole::Output,
        ),
        (
            "filter",
            WEIGHTS_BASE,
            9 * shape.in_channels * shape.out_channels,
            BufferRole::Weights,
        ),
    ] {
        sink.op_buffer(&Buffer {
            name: name.to_string(),
            start: Address(base),
            len,
            role,
        });
    }
    let mut emitter = Emitter { sink, time: start };
    for out_y in 0..shape.out_height() {
        for out_x in 0..shape.out_width() {
            for out_c in 0..shape.out_channels {
                // push {r4-r7}
                for register in 0..4 {
                    emitter.emit(
                        0x0800_1000,
                        STACK_TOP - 16 + 4 * register,
                        4,
                        AccessKind::Write,
                    );
                }
                for filter_y in 0..3 {
                    for filter_x in 0..3 {
                        for in_c in 0..shape.in_channels {
                            let input = ((out_y + filter_y) * shape.width + out_x + filter_x)
                                * shape.in_channels
                                + in_c;
                            let filter =
                                ((out_c * 3 + filter_y) * 3 + filter_x) * shape.in_channels + in_c;
                            emitter.emit(0x0800_1010, INPUT_BASE + input, 1, AccessKind::Read);
                            emitter.emit(0x0800_1014, WEIGHTS_BASE + filter, 1, AccessKind::Read);
                        }
                    }
                }
                emitter.emit(0x0800_1030, BIAS_BASE + 4 * out_c, 4, AccessKind::Read);
                let output = (out_y * shape.out_width() + out_x) * shape.out_channels + out_c;
                emitter.emit(0x0800_1040, OUTPUT_BASE + output, 1, AccessKind::Write);
                // pop {r4-r7}
                for register in 0..4 {
                    emitter.emit(
                        0x0800_1050,
                        STACK_TOP - 16 + 4 * register,
                        4,
                        AccessKind::Read,
                    );
                }
            }
        }
    }
    let end = emitter.time;
    // The instructions such code runs per output element: push, 9 x in_c x
    // (two byte loads and a multiply-accumulate), the bias load, the store, pop.
    let per_output = 1 + 27 * shape.in_channels as u64 + 3;
    sink.op_instructions(per_output * shape.output_len() as u64);
    sink.op_end(EventTime(end));
    end
}
