using Firedrill.Lab.Cli;

return await LabCommands.Build().Parse(args).InvokeAsync();
