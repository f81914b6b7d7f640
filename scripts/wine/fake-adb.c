/* A stand-in for adb.exe in the Windows test (cli/tests/windows.rs), the same as
 * cli/tests/fixtures/fake-adb for Linux: the "device" is the folder named by
 * FAKE_DEVICE_ROOT, and each command works on files under it.
 *   adb -s SERIAL push LOCAL REMOTE | pull REMOTE LOCAL
 *   adb -s SERIAL shell ls|mv|rm [-f]|mkdir [-p] PATH...
 * Built with mingw-w64 by scripts/windows.sh; it never ships.
 */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>

static wchar_t root[4096];

static const wchar_t *map(const wchar_t *remote, wchar_t *out)
{
    _snwprintf(out, 4096, L"%ls%ls", root, remote);
    for (wchar_t *p = out; *p; p++)
        if (*p == L'/')
            *p = L'\\';
    return out;
}

static int mkdirs(wchar_t *path)
{
    for (wchar_t *p = path + 3; *p; p++) {
        if (*p == L'\\') {
            *p = 0;
            CreateDirectoryW(path, NULL);
            *p = L'\\';
        }
    }
    return CreateDirectoryW(path, NULL) || GetLastError() == ERROR_ALREADY_EXISTS ? 0 : 1;
}

int wmain(int argc, wchar_t **argv)
{
    wchar_t a[4096], b[4096];
    if (!GetEnvironmentVariableW(L"FAKE_DEVICE_ROOT", root, 4096)) {
        fwprintf(stderr, L"fake-adb: FAKE_DEVICE_ROOT is not set\n");
        return 1;
    }
    int i = 1;
    if (i + 1 < argc && wcscmp(argv[i], L"-s") == 0)
        i += 2;
    if (i >= argc)
        return 1;
    const wchar_t *cmd = argv[i++];
    if (wcscmp(cmd, L"push") == 0 && i + 1 < argc)
        return CopyFileW(argv[i], map(argv[i + 1], b), FALSE) ? 0 : 1;
    if (wcscmp(cmd, L"pull") == 0 && i + 1 < argc)
        return CopyFileW(map(argv[i], a), argv[i + 1], FALSE) ? 0 : 1;
    if (wcscmp(cmd, L"shell") != 0 || i >= argc) {
        fwprintf(stderr, L"fake-adb: unsupported %ls\n", cmd);
        return 1;
    }
    const wchar_t *sub = argv[i++];
    if (wcscmp(sub, L"ls") == 0 && i < argc) {
        DWORD attr = GetFileAttributesW(map(argv[i], a));
        if (attr == INVALID_FILE_ATTRIBUTES)
            return 1;
        if (!(attr & FILE_ATTRIBUTE_DIRECTORY)) {
            wprintf(L"%ls\n", argv[i]);
            return 0;
        }
        WIN32_FIND_DATAW found;
        wcscat(a, L"\\*");
        HANDLE h = FindFirstFileW(a, &found);
        if (h == INVALID_HANDLE_VALUE)
            return 0;
        do {
            if (wcscmp(found.cFileName, L".") && wcscmp(found.cFileName, L".."))
                wprintf(L"%ls\n", found.cFileName);
        } while (FindNextFileW(h, &found));
        FindClose(h);
        return 0;
    }
    if (wcscmp(sub, L"mv") == 0 && i + 1 < argc)
        return MoveFileExW(map(argv[i], a), map(argv[i + 1], b), MOVEFILE_REPLACE_EXISTING) ? 0 : 1;
    if (wcscmp(sub, L"rm") == 0) {
        if (i < argc && wcscmp(argv[i], L"-f") == 0)
            i++;
        for (; i < argc; i++)
            DeleteFileW(map(argv[i], a));
        return 0;
    }
    if (wcscmp(sub, L"mkdir") == 0) {
        if (i < argc && wcscmp(argv[i], L"-p") == 0)
            i++;
        for (; i < argc; i++)
            if (mkdirs((wchar_t *)map(argv[i], a)))
                return 1;
        return 0;
    }
    fwprintf(stderr, L"fake-adb: unsupported shell %ls\n", sub);
    return 1;
}
