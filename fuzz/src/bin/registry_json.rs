//! AFL++ target `registry_json`: see [`berth_fuzz::registry_json`]. Built by `cargo afl build`, run by `make fuzz`.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        berth_fuzz::registry_json(data);
    });
}
