//! Test inputs for the parsers: seed messages with a few bytes flipped,
//! dropped or inserted, from a deterministic generator so that a failure
//! can be reproduced. Used by the server's and the client's tests.

/// `rounds` mutated copies of `seeds` (taken in turn), each with one to
/// four edits drawn from `alphabet`.
pub fn mutated(
    seeds: &[&[u8]],
    alphabet: &'static [u8],
    seed: u64,
    rounds: usize,
) -> impl Iterator<Item = Vec<u8>> {
    let seeds: Vec<Vec<u8>> = seeds.iter().map(|s| s.to_vec()).collect();
    let mut state = seed;
    // xorshift64: plenty for shuffling test inputs.
    let mut next = move |below: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % below as u64) as usize
    };
    (0..rounds).map(move |round| {
        let mut input = seeds[round % seeds.len()].clone();
        for _ in 0..1 + next(4) {
            let at = next(input.len().max(1)).min(input.len());
            match next(3) {
                0 if at < input.len() => input[at] = alphabet[next(alphabet.len())],
                1 if at < input.len() => {
                    input.remove(at);
                }
                _ => input.insert(at, alphabet[next(alphabet.len())]),
            }
        }
        input
    })
}
