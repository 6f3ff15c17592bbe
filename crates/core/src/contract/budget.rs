//! What every deadline contract's arrival rule gives: a per-hop [`Budget`]
//! relative to the packet's arrival `t_rcv`, in nanoseconds: `hold`
//! (eligible from `t_rcv + hold`) and `deadline` (send by `t_rcv + deadline`;
//! `None` = best effort), or a [`Refusal`]. The formulas themselves live
//! with their contracts (max_delay, lbf, precise_lbf), exactly as the
//! wire-format spec gives them.

use crate::kinds::Reason;

/// What a contract asks of this hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub hold_ns: u64,
    pub deadline_ns: Option<u64>,
}

/// Why a contract cannot be honoured on arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Type 1: delay_exp already above max_allowed_delay.
    MaxDelayExceeded,
    /// Type 2: fib_tohops is 0.
    NoHops,
    /// Type 2: experienced + fib_todelay above max_delay.
    EarlyDiscard,
    /// 0x8001: fq_max < 0.
    Infeasible,
}

/// Nanoseconds in the contracts' units.
pub const NS_PER_MS: u64 = 1_000_000;
pub const NS_PER_TENTH_MS: u64 = 100_000;

/// `RECIP[b] = ceil(2^64 / b)`: with it, `a / b == (a * RECIP[b]) >> 64`
/// exactly for every u32 `a` (Lemire, Kaser and Kurz, "Faster remainder by
/// direct computation", 2019), a multiply instead of a ~25-cycle divide.
const RECIP: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut b = 2;
    while b < 256 {
        t[b] = u64::MAX / b as u64 + 1;
        b += 1;
    }
    t
};

/// `a / b` (b > 0) without the divider for a == 0, b == 1 and hop counts
/// below 256, the only ones real paths have.
#[inline(always)]
pub fn div_nonzero(a: u32, b: u32) -> u32 {
    if a == 0 || b == 1 {
        a
    } else if b < 256 {
        ((a as u128 * RECIP[b as usize] as u128) >> 64) as u32
    } else {
        a / b
    }
}


impl Refusal {
    /// The drop reason counted for it.
    pub fn reason(self) -> Reason {
        match self {
            Refusal::MaxDelayExceeded => Reason::NewipMaxDelayExceeded,
            Refusal::NoHops => Reason::NewipLbfNoHops,
            Refusal::EarlyDiscard => Reason::NewipEarlyDiscard,
            Refusal::Infeasible => Reason::NewipInfeasible,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reciprocal_division_is_exact_at_the_edges() {
        for b in 1u32..300 {
            let mut probes = vec![0, 1, 2, b - 1, b, b + 1, u32::MAX, u32::MAX - 1, u32::MAX - b, u32::MAX / b * b, u32::MAX / b * b - 1];
            probes.extend((1..1000).map(|k| k * b - 1).chain((1..1000).map(|k| k * b)));
            for a in probes {
                assert_eq!(div_nonzero(a, b), a / b, "{a} / {b}");
            }
        }
    }

    proptest! {
        #[test]
        fn reciprocal_division_is_exact(a in any::<u32>(), b in 1u32..300) {
            prop_assert_eq!(div_nonzero(a, b), a / b);
        }
    }
}
