/* ProcessPrng for Wine before 9.0 (Debian 12 ships Wine 8).
 *
 * Rust's standard library on Windows 10 and later takes its random bytes from
 * ProcessPrng in bcryptprimitives.dll; every Windows 10/11 has that DLL, Wine 8
 * does not, so a tsd.exe would not even start under it. This stand-in gives the
 * same bytes from RtlGenRandom (advapi32's SystemFunction036). It is built and put
 * into the test's own Wine prefix by scripts/windows.sh only: nothing of it ships.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
