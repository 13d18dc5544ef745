//! Docker's multiplexed stream: each frame is an 8-byte header (stream id, 3 zero bytes,
//! big-endian u32 length) followed by the payload. Used for logs and attach without a TTY.

/// Stream ids in the header.
pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;

pub fn encode(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 8);
    out.push(stream);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// Incremental decoder: feed bytes, take complete frames.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if any.
    pub fn next_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        if self.buf.len() < 8 {
            return None;
        }
        let len = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if self.buf.len() < 8 + len {
            return None;
        }
        let stream = self.buf[0];
        let payload = self.buf[8..8 + len].to_vec();
        self.buf.drain(..8 + len);
        Some((stream, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_pieces() {
        let mut bytes = encode(STDOUT, b"hello\n");
        bytes.extend(encode(STDERR, b"oops"));
        let mut d = Decoder::default();
        d.push(&bytes[..5]);
        assert!(d.next_frame().is_none());
        d.push(&bytes[5..]);
        assert_eq!(d.next_frame().unwrap(), (STDOUT, b"hello\n".to_vec()));
        assert_eq!(d.next_frame().unwrap(), (STDERR, b"oops".to_vec()));
        assert!(d.next_frame().is_none());
    }
}
