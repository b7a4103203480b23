//! Container id rules: runc's `^[\w+\-\.]+$`, without `.` and `..` (they would name the state root
//! or its parent).

use super::SpecError;

/// Refuses an id runc would refuse (empty, other characters than letters, digits, `_+-.`,
/// or `.`/`..`).
pub fn validate_container_id(id: &str) -> Result<(), SpecError> {
    let bad = |reason| {
        Err(SpecError::InvalidId {
            id: id.to_string(),
            reason,
        })
    };
    if id.is_empty() {
        return bad("it is empty");
    }
    if id == "." || id == ".." {
        return bad("it is a path component");
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c))
    {
        return bad("only letters, digits, '_', '+', '-' and '.' are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_runc_ids() {
        for id in ["a", "my-container_1.0+x", "A.B", "..."] {
            assert!(validate_container_id(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn refuses_bad_ids() {
        for id in ["", ".", "..", "a/b", "/", "../x", "a b", "ä", "a\0b", "x:y"] {
            assert!(validate_container_id(id).is_err(), "{id:?}");
        }
    }
}
