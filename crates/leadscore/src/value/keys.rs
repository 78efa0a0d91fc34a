//! A small set of names found by a text in one hashed probe and a compare of two words:
//! a pack's event types (ignoring ASCII case) and the keys a read plan reads.
//!
//! Searching a list compares the text with one name after another and stops at the one
//! that matches; which one that is depends on the lead, so the search's branches are
//! mispredicted about once a lookup (half of checking an event). Here a text's first and
//! last eight bytes (which hold all of it up to 16 bytes) are hashed with a multiplier
//! chosen when the set is built so that no two names share a slot: the slot holds the
//! one name the text can be, compared in two words. (A set no multiplier separates, in
//! practice one of hundreds of names, is searched in turn.)

/// A text's length and up to 16 of its bytes in two words, read with overlapping loads:
/// two texts of at most 16 bytes are equal exactly when their keys are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    lo: u64,
    hi: u64,
    len: usize,
}

/// Every byte's `0x20`: an ASCII letter with it set is lower-case, so a key with it set
/// everywhere is the same for texts that differ only in ASCII case.
const CASE: u64 = 0x2020_2020_2020_2020;

impl Key {
    /// The first and last 8 bytes (4 for 4 to 7 bytes; the first, middle and last byte
    /// for 1 to 3), which together are every byte of a text of up to 16.
    #[inline(always)]
    fn of(text: &[u8]) -> Key {
        let word = |b: &[u8; 8]| u64::from_le_bytes(*b);
        let half = |b: &[u8; 4]| u64::from(u32::from_le_bytes(*b));
        let (lo, hi) = match (text.first_chunk::<8>(), text.last_chunk::<8>()) {
            (Some(first), Some(last)) => (word(first), word(last)),
            _ => match (text.first_chunk::<4>(), text.last_chunk::<4>()) {
                (Some(first), Some(last)) => (half(first), half(last)),
                _ => match text {
                    [] => (0, 0),
                    [first, ..] => {
                        let middle = text.get(text.len() / 2).copied().unwrap_or(0);
                        let last = text.last().copied().unwrap_or(0);
                        (u64::from(*first) | u64::from(middle) << 8, u64::from(last))
                    }
                },
            },
        };
        Key {
            lo,
            hi,
            len: text.len(),
        }
    }

    /// Whether two keys are the same: one compare of the three fields' differences, not
    /// a branch each (a text that is not among the names differs at any of them).
    #[inline(always)]
    fn same(self, other: Key) -> bool {
        ((self.lo ^ other.lo) | (self.hi ^ other.hi) | (self.len ^ other.len) as u64) == 0
    }

    /// Whether the key holds all of its text.
    #[inline]
    fn whole(self) -> bool {
        self.len <= 16
    }

    /// The slot of this key in a table of `1 << (64 - shift)` slots, case folded or not.
    #[inline(always)]
    fn slot(self, multiplier: u64, shift: u32, folded: bool) -> usize {
        let fold = if folded { CASE } else { 0 };
        let mixed = (self.lo | fold) ^ (self.hi | fold).rotate_left(29) ^ self.len as u64;
        (mixed.wrapping_mul(multiplier) >> shift) as usize
    }
}

/// Odd multipliers tried in turn until one puts every name of a set in a slot of its own.
const MULTIPLIERS: [u64; 8] = [
    0x9e37_79b9_7f4a_7c15,
    0xbf58_476d_1ce4_e5b9,
    0x94d0_49bb_1331_11eb,
    0xd6e8_feb8_6659_fd93,
    0xa076_1d64_78bd_642f,
    0xe703_7ed1_a0b4_28db,
    0x8ebc_6af0_9c88_c6e3,
    0x5899_65cc_7537_4cc3,
];

/// The marker of an empty slot.
const EMPTY: u32 = u32::MAX;

/// Distinct names, each found by its index. Printable: its `Debug` lists the names.
#[derive(Clone, Debug, Default)]
pub struct KeyIndex {
    names: Vec<Box<[u8]>>,
    keys: Vec<Key>,
    /// The index of the name in each slot, or [`EMPTY`]; no slots when no multiplier
    /// separated the names (then they are searched in turn).
    slots: Box<[u32]>,
    multiplier: u64,
    shift: u32,
    /// Whether slots are chosen ignoring ASCII case.
    folded: bool,
}

impl KeyIndex {
    /// The index of `names` (distinct), found by their exact bytes.
    pub fn exact<'n>(names: impl IntoIterator<Item = &'n str>) -> KeyIndex {
        KeyIndex::new(names, false)
    }

    /// The index of `names` (distinct ignoring ASCII case), found ignoring ASCII case.
    pub fn ignoring_ascii_case<'n>(names: impl IntoIterator<Item = &'n str>) -> KeyIndex {
        KeyIndex::new(names, true)
    }

    fn new<'n>(names: impl IntoIterator<Item = &'n str>, folded: bool) -> KeyIndex {
        let names: Vec<Box<[u8]>> = names.into_iter().map(|n| n.as_bytes().into()).collect();
        let keys: Vec<Key> = names.iter().map(|n| Key::of(n)).collect();
        let mut index = KeyIndex {
            names,
            keys,
            slots: Box::default(),
            multiplier: 0,
            shift: 0,
            folded,
        };
        // Four slots a name, doubled up to three times while no multiplier separates
        // them (one usually does at the first or second try).
        let mut bits = (index.keys.len().max(1) * 4).next_power_of_two().trailing_zeros();
        let most = bits + 3;
        while bits <= most && index.slots.is_empty() {
            let shift = 64 - bits;
            for multiplier in MULTIPLIERS {
                if let Some(slots) = index.separate(multiplier, shift, 1 << bits) {
                    (index.slots, index.multiplier, index.shift) = (slots, multiplier, shift);
                    break;
                }
            }
            bits += 1;
        }
        index
    }

    /// The slots of every name with `multiplier`, if no two share one.
    fn separate(&self, multiplier: u64, shift: u32, size: usize) -> Option<Box<[u32]>> {
        let mut slots = vec![EMPTY; size].into_boxed_slice();
        for (i, key) in self.keys.iter().enumerate() {
            let slot = slots.get_mut(key.slot(multiplier, shift, self.folded))?;
            if *slot != EMPTY {
                return None;
            }
            *slot = i as u32;
        }
        Some(slots)
    }

    /// The one name `key` can be (before comparing), by its slot.
    #[inline(always)]
    fn candidate(&self, key: Key) -> Option<usize> {
        let slot = self.slots.get(key.slot(self.multiplier, self.shift, self.folded))?;
        (*slot != EMPTY).then_some(*slot as usize)
    }

    /// Whether name `i` is `text`, whose key is `key`.
    #[inline(always)]
    fn is(&self, i: usize, key: Key, text: &[u8]) -> bool {
        self.keys.get(i).is_some_and(|k| k.same(key))
            && (key.whole() || self.names.get(i).is_some_and(|n| **n == *text))
    }

    /// The index of the name that is `text`.
    #[inline(always)]
    pub fn find(&self, text: &[u8]) -> Option<usize> {
        if self.slots.is_empty() {
            return self.names.iter().position(|n| **n == *text);
        }
        let key = Key::of(text);
        let i = self.candidate(key)?;
        self.is(i, key, text).then_some(i)
    }

    /// The index of the name that is `text` ignoring ASCII case (exactly the same bytes
    /// tried first). Only for an index built [ignoring case](KeyIndex::ignoring_ascii_case).
    #[inline(always)]
    pub fn find_ignore_ascii_case(&self, text: &[u8]) -> Option<usize> {
        if self.slots.is_empty() || !self.folded {
            let exact = self.names.iter().position(|n| **n == *text);
            return exact.or_else(|| self.names.iter().position(|n| n.eq_ignore_ascii_case(text)));
        }
        let key = Key::of(text);
        let i = self.candidate(key)?;
        let same = self.is(i, key, text) || self.names.get(i).is_some_and(|n| n.eq_ignore_ascii_case(text));
        same.then_some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXTS: [&str; 24] = [
        "",
        "a",
        "A",
        "ab",
        "abc",
        "abd",
        "acc",
        "abcd",
        "type",
        "Type",
        "at",
        "page_view",
        "PAGE_VIEW",
        "page_vieW",
        "page_views",
        "webinar",
        "webinaR",
        "email_open",
        "email_click",
        "a_name_longer_than_sixteen",
        "a_name_longer_than_sixteem",
        "b_name_longer_than_sixteen",
        "ünïted_event",
        "Ünïted_event",
    ];

    /// Every lookup agrees with searching the names in turn, for names of every length
    /// (the three ways a key is read) and sets of several sizes.
    #[test]
    fn lookups_agree_with_a_search() {
        let sets: [&[&str]; 5] = [
            &[],
            &["page_view"],
            &[
                "page_view",
                "form_submit",
                "download",
                "email_open",
                "webinar",
                "video_play",
            ],
            &[
                "a",
                "ab",
                "abc",
                "abcd",
                "at",
                "type",
                "a_name_longer_than_sixteen",
                "ünïted_event",
            ],
            &["type", "Type", "TYPE", "at", "AT"],
        ];
        for set in sets {
            let exact = KeyIndex::exact(set.iter().copied());
            assert!(!exact.slots.is_empty() || set.is_empty(), "{set:?} separated");
            for text in TEXTS.iter().chain(set) {
                let wanted = set.iter().position(|n| n == text);
                assert_eq!(exact.find(text.as_bytes()), wanted, "{text:?} in {set:?}");
            }
        }
        for set in &sets[..4] {
            let folded = KeyIndex::ignoring_ascii_case(set.iter().copied());
            for text in TEXTS.iter().chain(*set) {
                let wanted = (set.iter().position(|n| n == text))
                    .or_else(|| set.iter().position(|n| n.eq_ignore_ascii_case(text)));
                assert_eq!(
                    folded.find_ignore_ascii_case(text.as_bytes()),
                    wanted,
                    "{text:?} in {set:?}"
                );
            }
        }
    }

    /// A set too large for any multiplier to separate (two thousand names) is searched
    /// in turn, with the same answers; a few dozen are separated.
    #[test]
    fn large_sets_are_searched() {
        let dozens: Vec<String> = (0..40).map(|i| format!("property_{i}")).collect();
        assert!(!KeyIndex::exact(dozens.iter().map(String::as_str)).slots.is_empty());
        let names: Vec<String> = (0..2000).map(|i| format!("property_{i}")).collect();
        let index = KeyIndex::exact(names.iter().map(String::as_str));
        for (i, name) in names.iter().enumerate() {
            assert_eq!(index.find(name.as_bytes()), Some(i));
        }
        assert_eq!(index.find(b"property_2000"), None);
    }

    /// Names a multiplier cannot separate (none can: they are the same ignoring case)
    /// are searched in turn, with the same answers.
    #[test]
    fn names_no_multiplier_separates_are_searched() {
        let index = KeyIndex::ignoring_ascii_case(["type", "TYPE"]);
        assert!(index.slots.is_empty());
        assert_eq!(index.find_ignore_ascii_case(b"TYPE"), Some(1));
        assert_eq!(index.find_ignore_ascii_case(b"Type"), Some(0));
        assert_eq!(index.find(b"TYPE"), Some(1));
        assert_eq!(index.find(b"Type"), None);
    }

    /// A key is every byte of a text of up to 16 bytes: texts that differ anywhere have
    /// different keys.
    #[test]
    fn keys_hold_short_texts_whole() {
        let base = b"abcdefghijklmnop";
        for len in 0..=16 {
            let text = &base[..len];
            for at in 0..len {
                let mut other = text.to_vec();
                other[at] = b'_';
                assert_ne!(Key::of(text), Key::of(&other), "{len} bytes, changed at {at}");
            }
        }
    }
}
