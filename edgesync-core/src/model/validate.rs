//! Small validation helpers shared by the model's `validate` methods.

use crate::error::{Error, Result};

/// Maximum length of names (nodes, POPs, functions, …).
pub const MAX_NAME_LEN: usize = 63;

/// Checks a name: 1 to 63 characters, letters and digits at both ends, `-`, `_`, `.` inside.
pub fn name(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(format!("{field} must not be empty")));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(Error::invalid(format!(
            "{field} must be at most {MAX_NAME_LEN} characters, got {}",
            value.len()
        )));
    }
    let bytes = value.as_bytes();
    let edge_ok = |b: u8| b.is_ascii_alphanumeric();
    let inner_ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    if !edge_ok(bytes[0]) || !edge_ok(bytes[bytes.len() - 1]) || !bytes.iter().all(|&b| inner_ok(b))
    {
        return Err(Error::invalid(format!(
            "{field} {value:?} must start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'"
        )));
    }
    Ok(())
}

/// Checks free text: at most `max` characters and no control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::invalid(format!(
            "{field} must be at most {max} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}

/// Checks that `value` lies in `min..=max`.
pub fn range<T: PartialOrd + std::fmt::Display>(
    field: &str,
    value: T,
    min: T,
    max: T,
) -> Result<()> {
    if value < min || value > max {
        return Err(Error::invalid(format!(
            "{field} must be between {min} and {max}, got {value}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "pop-1", "fra1.edge_2", "A9"] {
            assert!(name("name", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "a b", "é", &"x".repeat(64), "a/b"] {
            assert!(name("name", bad).is_err(), "{bad}");
        }
    }
}
