//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).

/// One's-complement sum of `data` as big-endian 16-bit words, added to `init`,
/// not folded.
#[inline]
pub fn sum(data: &[u8], init: u32) -> u32 {
    let mut s = init as u64;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        s += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [last] = chunks.remainder() {
        s += (*last as u64) << 8;
    }
    fold64(s) as u32
}

/// Fold a 64-bit one's-complement sum to 16 bits: twice 64 -> 32, twice
/// 32 -> 16. Two folds always suffice at each width (the first leaves at
/// most one bit of carry, the second absorbs it), so there is no loop and
/// no branch; folding a value that already fits changes nothing.
#[inline(always)]
fn fold64(s: u64) -> u16 {
    let s = (s & 0xffff_ffff) + (s >> 32);
    let s = (s & 0xffff_ffff) + (s >> 32);
    fold(s as u32)
}

/// Fold a 32-bit sum to 16 bits.
#[inline(always)]
pub fn fold(s: u32) -> u16 {
    let s = (s & 0xffff) + (s >> 16);
    let s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// The checksum field value for `data` (with its checksum field zeroed).
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

/// True if `header` (checksum field included) sums to 0xffff.
#[inline]
pub fn verifies(header: &[u8]) -> bool {
    fold(sum(header, 0)) == 0xffff
}

/// [`verifies`] for a header made of whole 32-bit words (an IPv4 header:
/// IHL counts words), summed a word at a time. The one's-complement sum
/// does not depend on byte order (RFC 1071, 2.B), so the words are read in
/// native order and 0xffff, its own byte swap, is the test; a 20-byte
/// header is five loads and adds, where the byte-pair loop was the IPv4
/// router's costliest step. Bytes past the last whole word are ignored.
#[inline(always)]
pub fn verifies_words(header: &[u8]) -> bool {
    #[inline(always)]
    fn words(b: &[u8]) -> u64 {
        b.chunks_exact(4).map(|w| u32::from_ne_bytes([w[0], w[1], w[2], w[3]]) as u64).sum()
    }
    // The common case (no options) as a fixed-size array, so it unrolls.
    let s = match header.first_chunk::<20>() {
        Some(h) => words(h) + words(&header[20..]),
        None => words(header),
    };
    fold64(s) == 0xffff
}

/// New checksum after one 16-bit word of the covered data changed from `old` to `new`
/// (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
#[inline(always)]
pub fn update16(hc: u16, old: u16, new: u16) -> u16 {
    let s = (!hc as u32) + (!old as u32) + new as u32;
    !fold(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // The worked example of RFC 1071 section 3: sum 0x2ddf0 folds to 0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&d, 0)), 0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12, 0x34, 0x56], 0), 0x1234 + 0x5600);
    }

    #[test]
    fn words_verify_a_known_header() {
        // RFC 1071-style check on a real IPv4 header (checksum 0xb861).
        let mut h = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7];
        assert!(verifies(&h) && verifies_words(&h));
        h[10] ^= 1;
        assert!(!verifies(&h) && !verifies_words(&h));
    }

    proptest! {
        /// The word-at-a-time verifier agrees with the byte-pair one on any
        /// header of whole words (20 to 60 bytes), with its checksum set
        /// right or left as random.
        #[test]
        fn words_match_pairs(mut h in (5usize..=15).prop_flat_map(|w| proptest::collection::vec(any::<u8>(), w * 4)), fix in any::<bool>()) {
            if fix && h.len() >= 12 {
                h[10] = 0;
                h[11] = 0;
                let c = checksum(&h);
                h[10..12].copy_from_slice(&c.to_be_bytes());
                prop_assert!(verifies_words(&h));
            }
            prop_assert_eq!(verifies_words(&h), verifies(&h));
        }

        /// The straight-line folds give what folding 16 bits at a time
        /// until the value fits does, for every width of input.
        #[test]
        fn folds_match_the_loop(s in prop_oneof![any::<u64>(), any::<u32>().prop_map(u64::from), 0u64..0x3_0000]) {
            let mut want = s;
            while want >> 16 != 0 {
                want = (want & 0xffff) + (want >> 16);
            }
            prop_assert_eq!(fold64(s), want as u16);
            if let Ok(s32) = u32::try_from(s) {
                prop_assert_eq!(fold(s32), want as u16);
            }
        }

        #[test]
        fn incremental_matches_full(mut words in proptest::collection::vec(any::<u16>(), 2..30), idx in any::<prop::sample::Index>(), new in any::<u16>()) {
            let bytes = |w: &Vec<u16>| w.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
            let hc = checksum(&bytes(&words));
            let i = idx.index(words.len());
            let old = words[i];
            words[i] = new;
            let full = checksum(&bytes(&words));
            let inc = update16(hc, old, new);
            // 0x0000 and 0xffff are the same value in one's complement.
            prop_assert!(inc == full || (inc == 0xffff && full == 0) || (inc == 0 && full == 0xffff));
        }
    }
}
