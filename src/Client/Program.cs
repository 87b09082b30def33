Console.WriteLine("rlhf: not yet");
