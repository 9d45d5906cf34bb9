//! Property tests of the image scanner: random bytes in random chunkings never panic,
//! every value returned is in the input at the reported offset, and chunking never
//! changes the result.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use firmware_store::{ImageFacts, ImageScanner, TagPair};
use proptest::prelude::*;

fn scan(data: &[u8], cuts: &[usize]) -> ImageFacts {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    cuts.sort_unstable();
    let mut scanner = ImageScanner::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain(std::iter::once(data.len())) {
        scanner.feed(&data[from..cut]);
        from = cut;
    }
    assert_eq!(scanner.bytes_fed(), data.len() as u64);
    scanner.finish()
}

/// The tag as it must appear in the input: needle, pairs, empty key.
fn tag_bytes(tag: &[TagPair]) -> Vec<u8> {
    let mut out = b"blnkinf\0".to_vec();
    for p in tag {
        out.extend_from_slice(p.key.as_bytes());
        out.push(0);
        out.extend_from_slice(p.value.as_bytes());
        out.push(0);
    }
    out.push(0);
    out
}

fn at(data: &[u8], offset: Option<u64>) -> &[u8] {
    &data[usize::try_from(offset.unwrap()).unwrap()..]
}

/// Checks that nothing returned is absent from the input.
fn check_grounded(data: &[u8], facts: &ImageFacts) {
    if facts.tag.is_empty() {
        assert_eq!(facts.tag_offset, None);
    } else {
        assert!(at(data, facts.tag_offset).starts_with(&tag_bytes(&facts.tag)));
        for p in &facts.tag {
            assert!(!p.key.is_empty());
            assert!(
                p.key
                    .bytes()
                    .chain(p.value.bytes())
                    .all(|b| (0x20..=0x7e).contains(&b))
            );
        }
    }
    match &facts.legacy_build {
        None => assert_eq!(facts.legacy_build_offset, None),
        Some(value) => {
            assert!(!value.is_empty());
            let expected = [&b"\0build\0"[..], value.as_bytes(), b"\0"].concat();
            assert!(at(data, facts.legacy_build_offset).starts_with(&expected));
            // ... and it is the first marker in the input.
            let first = memchr::memmem::find(data, b"\0build\0").unwrap();
            assert_eq!(facts.legacy_build_offset, Some(first as u64));
        }
    }
    let tag_build = facts
        .tag
        .iter()
        .find(|p| p.key == "build")
        .map(|p| p.value.clone());
    assert_eq!(facts.build, tag_build.or(facts.legacy_build.clone()));
    if facts.build.is_none() {
        assert_eq!(facts.build_time, None);
    }
}

/// Inputs built from pieces that make tags and markers likely, plus raw noise.
fn tagged_noise() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"blnkinf\0".to_vec()),
        Just(b"\0build\0".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"\0\0\0".to_vec()),
        Just(b"mcu\x001.2.3\0".to_vec()),
        Just(b"Dec  4 2026 14:51:12".to_vec()),
        "[a-z0-9 .:-]{0,12}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..16),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic_and_stay_grounded(
        data in prop::collection::vec(any::<u8>(), 0..4096),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let facts = scan(&data, &cuts);
        check_grounded(&data, &facts);
        prop_assert_eq!(&facts, &scan(&data, &[]));
    }

    #[test]
    fn tag_like_noise_stays_grounded_and_chunking_is_invisible(
        data in tagged_noise(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let facts = scan(&data, &cuts);
        check_grounded(&data, &facts);
        prop_assert_eq!(&facts, &scan(&data, &[]));
        let bytes: Vec<usize> = (1..data.len()).collect();
        prop_assert_eq!(&facts, &scan(&data, &bytes));
    }

    #[test]
    fn a_real_tag_in_noise_is_found_exactly(
        before in prop::collection::vec(any::<u8>(), 0..3000),
        after in prop::collection::vec(any::<u8>(), 0..300),
        pairs in prop::collection::vec(("[a-z-]{1,8}", "[A-Za-z0-9 .:()-]{0,24}"), 1..6),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        // Noise before the tag must not contain another tag start.
        prop_assume!(memchr::memmem::find(&before, b"blnkinf").is_none());
        let tag: Vec<TagPair> =
            pairs.into_iter().map(|(key, value)| TagPair { key, value }).collect();
        let mut data = before.clone();
        data.extend_from_slice(&tag_bytes(&tag));
        data.extend_from_slice(&after);
        let facts = scan(&data, &cuts);
        prop_assert_eq!(&facts.tag, &tag);
        prop_assert_eq!(facts.tag_offset, Some(before.len() as u64));
        check_grounded(&data, &facts);
    }
}
