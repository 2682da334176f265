import Link from "next/link";

export default function NotFound() {
  return (
    <main className="mx-auto flex min-h-screen max-w-md flex-col items-center justify-center px-4 text-center">
      <p className="text-sm font-semibold text-indigo-600">404</p>
      <h1 className="mt-2 text-xl font-semibold text-slate-900">This page does not exist</h1>
      <p className="mt-2 text-sm text-slate-500">Check the address, or go back to the console.</p>
      <Link href="/" className="mt-6 rounded-md bg-indigo-600 px-3.5 py-2 text-sm font-medium text-white hover:bg-indigo-500">
        Open the console
      </Link>
    </main>
  );
}
