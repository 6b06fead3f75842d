//! The operator CLI (issue 4): not written yet.

fn main() {
    eprintln!("agentcore-rotator: no commands are implemented yet");
    std::process::exit(2);
}
