//! AFL++ target `config`: see [`berth_fuzz::config`]. Built by `cargo afl build`, run by `make fuzz`.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        berth_fuzz::config(data);
    });
}
