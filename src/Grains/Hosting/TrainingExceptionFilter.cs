namespace RlhfActors.Grains.Hosting;

/// <summary>
/// Lets the Training layer's own exception types (<c>NonFiniteTrainingException</c>, <c>NonFiniteWeightsException</c>,
/// …) and the Grains' (<c>LearnerGroupException</c>) cross a grain boundary: Training knows nothing of Orleans, so its types carry no serializer, and a caller on
/// another silo would get "could not find a codec" instead of the reason. As an exception leaves a grain, one of those
/// becomes an <see cref="InvalidOperationException"/> with the same message; BCL types (InvalidDataException,
/// ArgumentException, …) pass as they are.
/// </summary>
public sealed class TrainingExceptionFilter : IIncomingGrainCallFilter
{
    static readonly System.Reflection.Assembly Training = typeof(Training.Optim.FiniteUpdates).Assembly;
    static readonly System.Reflection.Assembly Grains = typeof(TrainingExceptionFilter).Assembly;

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception e) when (e.GetType().Assembly == Training || e.GetType().Assembly == Grains)
        {
            throw new InvalidOperationException(e.Message);
        }
    }
}
