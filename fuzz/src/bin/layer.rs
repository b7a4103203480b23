//! AFL++ target `layer`: see [`berth_fuzz::layer`]. Built by `cargo afl build`, run by `make fuzz`.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        berth_fuzz::layer(data);
    });
}
