//! Prints the content root of the bundled digits dataset (for job specs).

fn main() -> Result<(), vtrain_proof_of_learning::Error> {
    let digits = vtrain_proof_of_learning::Dataset::digits()?;
    println!("{}", digits.root());
    Ok(())
}
