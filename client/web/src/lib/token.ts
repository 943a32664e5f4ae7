/** `student-1234`: the default display name (4 random digits). */
export function randomStudentName(random: () => number = Math.random): string {
  return `student-${String(Math.floor(random() * 10000)).padStart(4, '0')}`;
}
