fn main() {
    std::process::exit(wharf::entry::main());
}
