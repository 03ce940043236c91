//! Generates the message encoders and decoders from `messages/*.kmsg`.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from("messages");
    println!("cargo:rerun-if-changed=messages");
    let messages = match purekafka_codegen::load_dir(&dir) {
        Ok(m) => m,
        Err(e) => {
            println!("cargo:warning=message definitions: {e}");
            std::process::exit(1);
        }
    };
    let code = purekafka_codegen::rust::generate(&messages);
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("messages.rs");
    if let Err(e) = std::fs::write(&out, code) {
        println!("cargo:warning=writing {}: {e}", out.display());
        std::process::exit(1);
    }
}
