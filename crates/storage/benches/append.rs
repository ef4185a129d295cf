fn main() {} // placeholder until the storage benchmark lands
