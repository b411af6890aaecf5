using Firedrill.ServiceDefaults.Telemetry;

namespace Firedrill.Shop.Http;

/// <summary>
/// Names the replica that answered (<c>X-Firedrill-Replica</c>), as many ingresses name the pod:
/// behind the gateway a client (or the lab) can tell a replica's answers from another's, e.g. a
/// replica that has just joined rotation from one that has served for a while.
/// </summary>
internal static class ReplicaHeader
{
    public const string Name = "X-Firedrill-Replica";

    public static WebApplication UseReplicaHeader(this WebApplication app)
    {
        var replica = app.Services.GetRequiredService<ServiceIdentity>().InstanceId;
        app.Use((context, next) =>
        {
            context.Response.Headers[Name] = replica;
            return next(context);
        });
        return app;
    }
}
