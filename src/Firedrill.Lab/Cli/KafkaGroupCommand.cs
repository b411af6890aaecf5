using System.CommandLine;
using Confluent.Kafka;
using Firedrill.Lab.Fleet;

namespace Firedrill.Lab.Cli;

/// <summary>
/// <c>firedrill kafka-group --bootstrap B [--group ledger] [--topic payments]</c>: a consumer group's
/// committed offset, log-end offset and lag per partition, and its members where the cluster can
/// describe them — <c>kafka-consumer-groups --describe</c> for a cluster with no Kafka tools beside it.
/// </summary>
internal static class KafkaGroupCommand
{
    public static Command Create()
    {
        var bootstrap = new Option<string>("--bootstrap") { Description = "bootstrap.servers of the cluster (firedrill up prints it).", Required = true };
        var group = new Option<string>("--group") { Description = "The consumer group.", DefaultValueFactory = _ => "ledger" };
        var topic = new Option<string>("--topic") { Description = "The topic the group reads.", DefaultValueFactory = _ => "payments" };
        var command = new Command("kafka-group", "Print a consumer group's offsets and lag per partition, read from outside the group.") { bootstrap, group, topic };
        command.SetAction((parse, cancellationToken) => LabCommands.Guard(async () =>
        {
            var (groupId, topicName) = (parse.GetValue(group)!, parse.GetValue(topic)!);
            using var reader = new ConsumerGroupOffsets(parse.GetValue(bootstrap)!, groupId, topicName);
            try
            {
                var partitions = await reader.ReadAsync(cancellationToken);
                Console.WriteLine(ConsumerGroupOffsets.Format(groupId, topicName, partitions));
                Console.WriteLine($"members: {await reader.MembersAsync()}");
                return 0;
            }
            catch (KafkaException ex)
            {
                throw new LabException($"could not read group {groupId} on {topicName}: {ex.Error.Reason}");
            }
        }));
        return command;
    }
}
