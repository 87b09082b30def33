using RlhfActors.Client;
using RlhfActors.Silo.Hosting;

Gen0Budget.EnsureOrReexec();

return await Cli.RunAsync(args, Console.Out, Console.Error, handleCtrlC: true);
