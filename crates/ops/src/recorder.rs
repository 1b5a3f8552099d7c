//! Per-byte access times collected while a kernel's loops are walked (any
//! family's walk: reference, CMSIS-NN, LSTM), in the form the overlap miner
//! takes them.

use crate::description::OpDescription;
use dmo_core::EventTime;

/// Per-byte access times of one simulated operator.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AccessTimes {
    /// For each activation input, per byte: time of its last read (`None`:
    /// never read).
    pub input_last_read: Vec<Vec<Option<EventTime>>>,
    /// Per output byte: time of its first read or write (`None`: never touched).
    pub output_first_access: Vec<Option<EventTime>>,
    /// Number of activation-buffer accesses the kernel makes.
    pub events: u64,
}

impl AccessTimes {
    /// `(lr, fa)` of one input/output pair, as the overlap miner takes them.
    pub fn pair(&self, input_index: usize) -> (&[Option<EventTime>], &[Option<EventTime>]) {
        (
            &self.input_last_read[input_index],
            &self.output_first_access,
        )
    }
}

/// Sentinel for "no access yet" in the working arrays.
const NEVER: u64 = u64::MAX;

/// Collects per-byte times while a kernel's loops are walked.
pub(crate) struct Recorder {
    last_read: Vec<Vec<u64>>,
    input_element_bytes: Vec<usize>,
    first_access: Vec<u64>,
    output_element_bytes: usize,
}

impl Recorder {
    pub(crate) fn new(op: &OpDescription) -> Recorder {
        Recorder {
            last_read: op
                .inputs()
                .iter()
                .map(|shape| vec![0; shape.bytes()])
                .collect(),
            input_element_bytes: op
                .inputs()
                .iter()
                .map(|shape| shape.element().size_bytes())
                .collect(),
            first_access: vec![NEVER; op.output().bytes()],
            output_element_bytes: op.output().element().size_bytes(),
        }
    }

    /// Input element `element` of input `input` is read at `time`.
    #[inline]
    pub(crate) fn read(&mut self, input: usize, element: usize, time: u64) {
        let size = self.input_element_bytes[input];
        self.read_bytes(input, element * size, size, time);
    }

    /// `count` input bytes from `first_byte` are read at `time` (one access).
    #[inline]
    pub(crate) fn read_bytes(&mut self, input: usize, first_byte: usize, count: usize, time: u64) {
        // Times are stored plus one so that 0 means "never read".
        for slot in &mut self.last_read[input][first_byte..first_byte + count] {
            *slot = (*slot).max(time + 1);
        }
    }

    /// Output element `element` is read or written at `time`.
    #[inline]
    pub(crate) fn access_output(&mut self, element: usize, time: u64) {
        let size = self.output_element_bytes;
        self.access_output_bytes(element * size, size, time);
    }

    #[inline]
    pub(crate) fn access_output_bytes(&mut self, first_byte: usize, count: usize, time: u64) {
        for slot in &mut self.first_access[first_byte..first_byte + count] {
            *slot = (*slot).min(time);
        }
    }

    pub(crate) fn finish(self, events: u64) -> AccessTimes {
        AccessTimes {
            input_last_read: self
                .last_read
                .into_iter()
                .map(|times| {
                    times
                        .into_iter()
                        .map(|t| if t == 0 { None } else { Some(EventTime(t - 1)) })
                        .collect()
                })
                .collect(),
            output_first_access: self
                .first_access
                .into_iter()
                .map(|t| if t == NEVER { None } else { Some(EventTime(t)) })
                .collect(),
            events,
        }
    }
}
