//! Test helpers: run a test body in a network namespace of its own, and run nft/conntrack in it.

use std::process::Command;

use nix::sched::{unshare, CloneFlags};

/// Runs `body` on a fresh thread moved into a new, empty network namespace; the namespace
/// dies with the thread, so nothing is left behind even when the body panics.
pub fn in_netns<T: Send>(body: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                unshare(CloneFlags::CLONE_NEWNET).expect("unshare network namespace (root?)");
                body()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Runs a command in the calling thread's network namespace and returns its stdout.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().expect(program);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
