namespace RlhfActors.Training.Tasks;

/// <summary>Random lower-case words for the string tasks. The length is uniform in [1, maxLength] (rather than
/// always maxLength) so that short, easy cases appear alongside the hardest ones.</summary>
static class RandomLetters
{
    public static string Draw(Random rng, int maxLength)
    {
        var letters = new char[rng.Next(1, maxLength + 1)];
        for (int i = 0; i < letters.Length; i++) letters[i] = (char)('a' + rng.Next(26));
        return new string(letters);
    }
}
