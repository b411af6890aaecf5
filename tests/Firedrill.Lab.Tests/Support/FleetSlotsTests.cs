namespace Firedrill.Lab.Tests.Support;

public sealed class FleetSlotsTests
{
    [Theory]
    [InlineData(null, 1)]
    [InlineData("", 1)]
    [InlineData("1", 1)]
    [InlineData("2", 2)]
    public void Parse_UnsetOrAWholeNumber_GivesTheFleetsAtOnce(string? value, int expected) =>
        Assert.Equal(expected, FleetSlots.Parse(value));

    [Theory]
    [InlineData("0")]
    [InlineData("9")]
    [InlineData("-1")]
    [InlineData("two")]
    [InlineData("1.5")]
    public void Parse_OutOfRangeOrNotANumber_NamesTheVariable(string value)
    {
        var error = Assert.Throws<InvalidOperationException>(() => FleetSlots.Parse(value));
        Assert.Contains(FleetSlots.Variable, error.Message);
        Assert.Contains(value, error.Message);
    }
}
