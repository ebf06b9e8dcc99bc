//! Arbitrary bytes as an image file (docker-archive, oci-archive, layer tarball: whatever the
//! bytes look like), opened and scanned in full. Nothing may panic, hang or grow without bound,
//! and the report must hold together (see `layerdig_fuzz::check_report`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = layerdig_fuzz::input_file("open_image", data);
    let report = layerdig_fuzz::scan(&path);
    layerdig_fuzz::check_report(&report);
});
