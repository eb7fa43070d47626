//! Arbitrary bytes into `parse_idx`: it must never panic nor allocate more
//! than the input warrants. When the bytes parse, the array is consistent
//! (payload length is the product of the dimensions) and `encode_idx` gives
//! back exactly the input, so parsing again yields the same array.

#![no_main]

use collapse_data::idx::{IdxData, encode_idx, parse_idx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(array) = parse_idx(bytes) else {
        return;
    };
    let elements = array.dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    assert_eq!(elements, Some(array.data.len()), "dims {:?}", array.dims);
    let encoded = encode_idx(&array).expect("a parsed array encodes");
    // Byte equality, not `==` on arrays: a NaN payload is not equal to itself.
    assert_eq!(encoded, bytes, "encode(parse(b)) != b");
    let again = parse_idx(&encoded).expect("re-encoded bytes parse");
    assert_eq!(again.dims, array.dims);
    match (&again.data, &array.data) {
        (IdxData::U8(a), IdxData::U8(b)) => assert_eq!(a, b),
        (IdxData::F32(a), IdxData::F32(b)) => {
            assert!(a.iter().map(|x| x.to_bits()).eq(b.iter().map(|x| x.to_bits())));
        }
        _ => panic!("type code changed on re-encoding"),
    }
});
