//! Lowercase hex for model identities and f32 bit patterns, without allocation.

use core::fmt;

/// Displays bytes as lowercase hex, two digits each.
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}
