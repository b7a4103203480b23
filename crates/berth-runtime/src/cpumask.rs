//! CPU and NUMA node lists ("0-3,7", the cpuset list format) as the bit masks that
//! sched_setaffinity(2) and set_mempolicy(2) take: bit N of 64-bit word N/64.
//!
//! The list syntax is parsed by [`berth_cgroups::convert::parse_cpu_list`], the one parser of
//! that format; this module only bounds the members and lays out the bits.

/// runc's limit for both CPU and node lists (its `unix.CPUSet` holds 1024 bits), so a config
/// that runc refuses is refused here too.
pub(crate) const LIST_LIMIT: u32 = 1024;

/// A list that is not a CPU/node list within [`LIST_LIMIT`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum MaskError {
    #[error("not a list of numbers and ranges (e.g. 0-3,7)")]
    Syntax,
    #[error("values larger than {} are not supported", LIST_LIMIT - 1)]
    TooLarge,
}

/// The members of `list` as a bit mask; empty for an empty list.
pub(crate) fn mask_of_list(list: &str) -> Result<Vec<u64>, MaskError> {
    let members =
        berth_cgroups::convert::parse_cpu_list("", list).map_err(|_| MaskError::Syntax)?;
    let Some(&max) = members.iter().max() else {
        return Ok(Vec::new());
    };
    if max >= LIST_LIMIT {
        return Err(MaskError::TooLarge);
    }
    let mut words = vec![0u64; max as usize / 64 + 1];
    for m in members {
        words[m as usize / 64] |= 1 << (m % 64);
    }
    Ok(words)
}

/// How many members a mask has.
pub(crate) fn count(mask: &[u64]) -> u32 {
    mask.iter().map(|w| w.count_ones()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_become_masks() {
        assert_eq!(mask_of_list("").unwrap(), Vec::<u64>::new());
        assert_eq!(mask_of_list("0").unwrap(), vec![1]);
        assert_eq!(mask_of_list("0-1").unwrap(), vec![3]);
        assert_eq!(mask_of_list("1,3").unwrap(), vec![0b1010]);
        assert_eq!(mask_of_list("64").unwrap(), vec![0, 1]);
        assert_eq!(count(&mask_of_list("0-7").unwrap()), 8);
        assert_eq!(count(&mask_of_list("0-1023").unwrap()), 1024);
    }

    #[test]
    fn bad_lists_are_refused() {
        assert_eq!(mask_of_list("1024"), Err(MaskError::TooLarge));
        assert_eq!(mask_of_list("0-9876543210"), Err(MaskError::Syntax));
        assert_eq!(mask_of_list("3-1"), Err(MaskError::Syntax));
        assert_eq!(mask_of_list("a"), Err(MaskError::Syntax));
    }
}
