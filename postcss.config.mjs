// Tailwind CSS 4 runs as a PostCSS plugin; it scans app/ and components/ for class names.
export default {
  plugins: { "@tailwindcss/postcss": {} },
};
