namespace Latchkey; internal static class Placeholder {}
