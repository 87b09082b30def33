namespace RlhfActors.Training.Tasks;

/// <summary>A difficulty knob of a synthetic task, with its default and inclusive range.</summary>
public sealed record TaskParameter(string Name, int Default, int Min, int Max)
{
    /// <summary>Returns <paramref name="value"/>, or throws naming the task, the parameter and its range.</summary>
    public int Check(string task, int value) => value >= Min && value <= Max
        ? value
        : throw new ArgumentOutOfRangeException(Name, value, $"task '{task}' parameter '{Name}' = {value} is out of range {Min}..{Max}");

    public override string ToString() => $"{Name} ({Min}..{Max}, default {Default})";
}
