using RlhfActors.Training.IO;
using RlhfActors.Training.Peft;

namespace RlhfActors.Training.Model;

/// <summary>
/// What a model folder is: a Hugging Face folder (<c>config.json</c> + weights) or a PEFT adapter folder
/// (<c>adapter_config.json</c>, no config.json) that names its base in <c>base_model_name_or_path</c>. Readers that
/// need the config or the tokenizer of an adapter folder get them from its base.
/// </summary>
public static class ModelFolders
{
    /// <summary>A PEFT adapter folder: adapter_config.json and no config.json of its own.</summary>
    public static bool IsAdapterFolder(string folder) =>
        File.Exists(Path.Combine(folder, PeftAdapterFolder.ConfigFile)) && !File.Exists(Path.Combine(folder, HfModelFolder.ConfigFile));

    /// <summary>The full path of the local base folder an adapter names: absolute, or relative to the current
    /// directory. There is no hub to download from, so a null or missing base is an error naming the field.</summary>
    public static string ResolveBase(string adapterFolder, string? baseModelNameOrPath)
    {
        var field = $"{Path.Combine(adapterFolder, PeftAdapterFolder.ConfigFile)}: base_model_name_or_path";
        if (string.IsNullOrWhiteSpace(baseModelNameOrPath))
            throw new InvalidDataException($"{field} is null; loading an adapter needs a local base model folder there (absolute, or relative to the current directory)");
        var full = Path.GetFullPath(baseModelNameOrPath);
        if (!File.Exists(Path.Combine(full, HfModelFolder.ConfigFile)))
            throw new InvalidDataException($"{field} is '{baseModelNameOrPath}', which is not a local model folder ({full} has no {HfModelFolder.ConfigFile}); loading an adapter needs a local base model folder (hub ids are not downloaded)");
        return full;
    }

    /// <summary>The folder whose config.json describes the model in <paramref name="folder"/>: itself, or an adapter
    /// folder's base.</summary>
    public static string ConfigFolder(string folder) =>
        IsAdapterFolder(folder) ? ResolveBase(folder, PeftAdapterFolder.Read(folder).BaseModelNameOrPath) : folder;

    /// <summary>Where the tokenizer of the model in <paramref name="folder"/> lives: the folder itself when it holds
    /// one (any of <paramref name="tokenizerFiles"/>), else an adapter folder's base (PEFT adapters often ship none).</summary>
    public static string TokenizerFolder(string folder, IReadOnlyList<string> tokenizerFiles) =>
        tokenizerFiles.Any(f => File.Exists(Path.Combine(folder, f))) || !IsAdapterFolder(folder) ? folder : ConfigFolder(folder);
}
