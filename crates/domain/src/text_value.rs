//! What every value object that wraps a checked string shares.

/// For each string value object (invoked in its own module, which can see
/// the private field): read-only access to the text (`Deref` to
/// `str`, so `as_deref`, `to_lowercase` and friends work), comparison with a
/// `&str`, `Display`, and `from_stored` for values read back from storage.
/// There is no `From<&str>`: new values go through `parse`.
macro_rules! text_value {
    ($($name:ident),+ $(,)?) => {$(
        impl $name {
            /// A value read back from storage, which only ever holds parsed
            /// values: not checked again, so a rule tightened later cannot
            /// lock a row out.
            pub fn from_stored(stored: String) -> Self {
                Self(stored)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )+};
}

pub(crate) use text_value;
