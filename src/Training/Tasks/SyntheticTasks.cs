namespace RlhfActors.Training.Tasks;

/// <summary>The built-in tasks by name, with their parameters. Names and parameter names match case-insensitively
/// (experiment YAML is written by hand); anything unknown or out of range is an ArgumentException that lists
/// what is valid, so a typo never silently falls back to a default.</summary>
public static class SyntheticTasks
{
    sealed record Definition(string Name, IReadOnlyList<TaskParameter> Parameters, Func<Func<TaskParameter, int>, ISyntheticTask> Create);

    static readonly Definition[] Definitions =
    [
        new(AdditionTask.TaskName, [AdditionTask.DigitsParameter], value => new AdditionTask(value(AdditionTask.DigitsParameter))),
        new(ReverseTask.TaskName, [ReverseTask.LengthParameter], value => new ReverseTask(value(ReverseTask.LengthParameter))),
        new(SortTask.TaskName, [SortTask.LengthParameter], value => new SortTask(value(SortTask.LengthParameter))),
    ];

    public static IReadOnlyList<string> Names { get; } = Definitions.Select(d => d.Name).ToArray();

    /// <summary>The parameters <paramref name="name"/> accepts.</summary>
    public static IReadOnlyList<TaskParameter> ParametersOf(string name) => Find(name).Parameters;

    public static ISyntheticTask Create(string name, IReadOnlyDictionary<string, int>? parameters = null)
    {
        var definition = Find(name);
        parameters ??= new Dictionary<string, int>();
        foreach (var given in parameters.Keys)
            if (!definition.Parameters.Any(p => Same(p.Name, given)))
                throw new ArgumentException(
                    $"task '{definition.Name}' has no parameter '{given}'; valid parameters: {string.Join(", ", definition.Parameters)}",
                    nameof(parameters));

        int ValueOf(TaskParameter parameter)
        {
            var given = parameters.Where(kv => Same(kv.Key, parameter.Name)).Select(kv => (int?)kv.Value).ToArray();
            if (given.Length > 1) throw new ArgumentException($"task '{definition.Name}' parameter '{parameter.Name}' is given more than once", nameof(parameters));
            var value = given.SingleOrDefault() ?? parameter.Default;
            if (value < parameter.Min || value > parameter.Max)
                throw new ArgumentException($"task '{definition.Name}' parameter '{parameter.Name}' = {value} is out of range {parameter.Min}..{parameter.Max}", nameof(parameters));
            return value;
        }
        return definition.Create(ValueOf);
    }

    static Definition Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Definitions.FirstOrDefault(d => Same(d.Name, name.Trim()))
            ?? throw new ArgumentException($"unknown task '{name}'; valid tasks: {string.Join(", ", Names)}", nameof(name));
    }

    static bool Same(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);
}
