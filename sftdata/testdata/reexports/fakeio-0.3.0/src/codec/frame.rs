/// A length-prefixed frame.
pub struct Frame {
    bytes: Vec<u8>,
}

impl Frame {
    /// The frame's length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
}

/// Encodes bytes as a frame.
pub fn encode(bytes: &[u8]) -> Frame {
    Frame { bytes: bytes.to_vec() }
}

/// Decodes a frame back into its bytes.
pub fn decode(frame: &Frame) -> Vec<u8> {
    frame.bytes.clone()
}
