import { mount } from 'svelte';
import App from './App.svelte';
import { apiUrl } from './lib/config';
import { Connection } from './lib/connection';
import { Router } from './lib/router';
import { ThemeStore } from './lib/theme';
import { fetchDevToken } from '@coderoom/sdk';
import { randomStudentName } from './lib/token';
import { ROUTES } from './routes';
import './app.css';

// `?name=alice` picks the display name; otherwise a random `student-1234`.
const query = new URLSearchParams(location.search);
const name = query.get('name')?.trim() || randomStudentName();
// `?role=instructor` asks the dev-token endpoint for an instructor (creates sessions, sees the
// dashboard); the default is a student.
const role = query.get('role') === 'instructor' ? 'instructor' : 'student';
const url = apiUrl();

const connection = new Connection({
  name,
  url,
  getToken: async (n) => (await fetchDevToken(url, { name: n, role })).token,
});
const themes = new ThemeStore();
const router = new Router(ROUTES);
const target = document.getElementById('app');
if (!target) throw new Error('#app is missing from index.html');

mount(App, { target, props: { services: { connection, themes }, router } });
connection.start();
