//! Mounts the lossy file system by hand: `cargo run -p tsd-lossyfs --example mount
//! BACKING AT`; Enter cuts the power.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (backing, at) = (std::path::Path::new(&args[1]), std::path::Path::new(&args[2]));
    let fs = tsd_lossyfs::mount(backing, at).expect("mount");
    println!("mounted at {}; Enter cuts the power", at.display());
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    fs.cut().expect("cut");
}
