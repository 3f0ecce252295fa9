//! A string that never shows up in `Debug` output or logs.

use std::fmt;
use std::sync::Arc;

/// A credential: cheap to clone, redacted when printed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(Arc<str>);

impl Secret {
    /// Wraps a credential.
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Self(Arc::from(value.into()))
    }

    /// The credential itself, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("esk_very_secret");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(s.expose(), "esk_very_secret");
    }
}
