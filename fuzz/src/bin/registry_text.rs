//! AFL++ target `registry_text`: see [`berth_fuzz::registry_text`]. Built by `cargo afl build`, run by `make fuzz`.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        berth_fuzz::registry_text(data);
    });
}
