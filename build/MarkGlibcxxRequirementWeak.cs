#nullable enable
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// Sets VER_FLG_WEAK on one symbol-version requirement of an ELF64 little-endian shared library,
/// when the system's libstdc++ does not provide that version. See TorchSharpGlibcxx.targets for why.
/// </summary>
public sealed class MarkGlibcxxRequirementWeak : Task
{
    [Required] public string Library { get; set; } = "";
    [Required] public string Version { get; set; } = "";

    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    static readonly string[] LibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
    };

    public override bool Execute()
    {
        string? systemLib = Array.Find(LibStdCxxCandidates, File.Exists);
        if (systemLib is null)
        {
            Log.LogMessage(MessageImportance.Low, "No system libstdc++.so.6 found; leaving {0} as it is.", Library);
            return true;
        }
        if (Contains(File.ReadAllBytes(systemLib), Encoding.ASCII.GetBytes(Version + "\0")))
        {
            Log.LogMessage(MessageImportance.Low, "{0} provides {1}; no patch needed.", systemLib, Version);
            return true;
        }

        byte[] elf = File.ReadAllBytes(Library);
        switch (MarkWeak(elf, Version, out string detail))
        {
            case Outcome.AlreadyWeak:
                Log.LogMessage(MessageImportance.Low, "{0}: {1} already weak.", Library, Version);
                return true;
            case Outcome.NotFound:
                Log.LogMessage(MessageImportance.Low, "{0}: no requirement on {1}.", Library, Version);
                return true;
            case Outcome.Malformed:
                Log.LogError("{0}: cannot patch {1}: {2}", Library, Version, detail);
                return false;
        }

        // Write through a temporary file and rename: never write through a hard link into the NuGet cache.
        string temp = Library + ".patching";
        File.WriteAllBytes(temp, elf);
        File.Delete(Library);
        File.Move(temp, Library);
        Log.LogMessage(MessageImportance.High, "Marked {0} weak in {1} (system libstdc++ lacks it).", Version, Library);
        return true;
    }

    enum Outcome { Patched, AlreadyWeak, NotFound, Malformed }

    static Outcome MarkWeak(byte[] elf, string version, out string detail)
    {
        detail = "";
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
        { detail = "not an ELF file"; return Outcome.Malformed; }
        if (elf[4] != 2 || elf[5] != 1) { detail = "not ELF64 little-endian"; return Outcome.Malformed; }

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        if (shoff == 0 || shentsize < 64 || shoff + (ulong)(shnum * shentsize) > (ulong)elf.Length)
        { detail = "section header table out of bounds"; return Outcome.Malformed; }

        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            if (BitConverter.ToUInt32(elf, sh + 4) != ShtGnuVerneed) continue;
            long secOff = (long)BitConverter.ToUInt64(elf, sh + 0x18);
            long secSize = (long)BitConverter.ToUInt64(elf, sh + 0x20);
            int link = (int)BitConverter.ToUInt32(elf, sh + 0x28);
            int strSh = checked((int)shoff + link * shentsize);
            long strOff = (long)BitConverter.ToUInt64(elf, strSh + 0x18);
            long strSize = (long)BitConverter.ToUInt64(elf, strSh + 0x20);
            if (secOff + secSize > elf.Length || strOff + strSize > elf.Length)
            { detail = "version-needs section out of bounds"; return Outcome.Malformed; }

            long need = secOff;
            while (true)
            {
                if (need + 16 > secOff + secSize) { detail = "Elf64_Verneed out of bounds"; return Outcome.Malformed; }
                int count = BitConverter.ToUInt16(elf, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                for (int a = 0; a < count; a++)
                {
                    if (aux + 16 > secOff + secSize) { detail = "Elf64_Vernaux out of bounds"; return Outcome.Malformed; }
                    uint name = BitConverter.ToUInt32(elf, (int)aux + 8);
                    if (ReadCString(elf, strOff + name, strOff + strSize) == version)
                    {
                        int flagsAt = (int)aux + 4;
                        ushort flags = BitConverter.ToUInt16(elf, flagsAt);
                        if ((flags & VerFlgWeak) != 0) return Outcome.AlreadyWeak;
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, flagsAt);
                        return Outcome.Patched;
                    }
                    uint nextAux = BitConverter.ToUInt32(elf, (int)aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint next = BitConverter.ToUInt32(elf, (int)need + 12);
                if (next == 0) break;
                need += next;
            }
        }
        return Outcome.NotFound;
    }

    static string ReadCString(byte[] data, long start, long limit)
    {
        long end = start;
        while (end < limit && data[end] != 0) end++;
        return Encoding.ASCII.GetString(data, (int)start, (int)(end - start));
    }

    static bool Contains(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }
}
