namespace Latchkey.Server.Tests; public class T { [Xunit.Fact] public void A() {} }
