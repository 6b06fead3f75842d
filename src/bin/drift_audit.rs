//! The drift-audit Lambda (issue 4): not written yet.

fn main() {
    eprintln!("drift-audit is not implemented yet");
    std::process::exit(2);
}
